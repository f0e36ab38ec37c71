//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// The loss probe measures what the lab's nft rule really does, so that the
// udpchat check runs over a path known to lose what the test says it loses.
//
// The sender sends numbered datagrams in batches, each followed by a fence.
// A fence is resent until the kernel takes it (a dropped datagram fails
// sendto with EPERM), and a veth delivers in order, so once the receiver has
// the fence it has every datagram of the batch that got through: no timing
// guesses, and batches small enough that no socket buffer overflows.

const (
	probeKindData  = 'd'
	probeKindFence = 'f'
	probeSize      = 32 // bytes per datagram: kind, big-endian uint32 number, padding
	probeBatch     = 100
	probePort      = 9100
	// probeFenceTries bounds the resends of one fence; at 30% loss the chance
	// that all are dropped is 0.3^100.
	probeFenceTries = 100
	// probeFenceWait bounds the wait for a fence the kernel took. On a veth
	// it arrives at once; not arriving means loss outside the nft rule.
	probeFenceWait = 5 * time.Second
)

// probeResult counts one direction's datagrams.
type probeResult struct {
	sent     int // data datagrams handed to sendto
	refused  int // of those, dropped by the output hook (sendto failed with EPERM)
	received int // distinct data datagrams that arrived
}

// loss is the share of sent datagrams that did not arrive.
func (r probeResult) loss() float64 {
	return 1 - float64(r.received)/float64(r.sent)
}

// probeOneWayLoss sends count small numbered datagrams from one lab host to
// the other and counts what arrives.
func probeOneWayLoss(ctx context.Context, from, to labHost, count int) (probeResult, error) {
	dst := netip.AddrPortFrom(to.addr, probePort)
	rx, err := listenUDPIn(to.ns, dst)
	if err != nil {
		return probeResult{}, err
	}
	defer rx.Close()
	tx, err := listenUDPIn(from.ns, netip.AddrPortFrom(from.addr, 0))
	if err != nil {
		return probeResult{}, err
	}
	defer tx.Close()

	batches := (count + probeBatch - 1) / probeBatch
	fences := make(chan uint32, batches)
	type rxResult struct {
		received int
		err      error
	}
	rxDone := make(chan rxResult, 1)
	go func() {
		n, err := receiveProbes(rx, count, fences)
		rxDone <- rxResult{n, err}
	}()

	var res probeResult
	sendErr := func() error {
		for batch := range batches {
			for seq := batch * probeBatch; seq < min(count, (batch+1)*probeBatch); seq++ {
				dropped, err := sendProbe(tx, dst, probeKindData, uint32(seq))
				if err != nil {
					return err
				}
				res.sent++
				if dropped {
					res.refused++
				}
			}
			if err := sendFence(tx, dst, uint32(batch)); err != nil {
				return err
			}
			select {
			case got := <-fences:
				if got != uint32(batch) {
					return fmt.Errorf("fence %d arrived while waiting for fence %d", got, batch)
				}
			case <-time.After(probeFenceWait):
				return fmt.Errorf("fence %d, taken by the kernel, did not arrive within %v: loss outside the nft rule?", batch, probeFenceWait)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}()
	rx.Close() // ends receiveProbes
	r := <-rxDone
	res.received = r.received
	// The receiver's error, if any, explains the sender's (a fence not seen).
	if err := errors.Join(r.err, sendErr); err != nil {
		return res, fmt.Errorf("%s → %s: %w", from.addr, to.addr, err)
	}
	return res, nil
}

// sendProbe sends one probe datagram. dropped reports that the output hook
// dropped it, which is no error here.
func sendProbe(tx *net.UDPConn, dst netip.AddrPort, kind byte, n uint32) (dropped bool, err error) {
	var b [probeSize]byte
	b[0] = kind
	binary.BigEndian.PutUint32(b[1:], n)
	_, err = tx.WriteToUDPAddrPort(b[:], dst)
	if errors.Is(err, syscall.EPERM) {
		return true, nil
	}
	return false, err
}

// sendFence sends fence n until the kernel takes it.
func sendFence(tx *net.UDPConn, dst netip.AddrPort, n uint32) error {
	for range probeFenceTries {
		dropped, err := sendProbe(tx, dst, probeKindFence, n)
		if err != nil || !dropped {
			return err
		}
	}
	return fmt.Errorf("fence %d dropped %d times in a row", n, probeFenceTries)
}

// receiveProbes reads probe datagrams until rx is closed, passing on each
// fence's number, and returns how many distinct data datagrams came.
func receiveProbes(rx *net.UDPConn, count int, fences chan<- uint32) (int, error) {
	seen := make([]bool, count)
	received := 0
	b := make([]byte, 2*probeSize)
	for {
		n, from, err := rx.ReadFromUDPAddrPort(b)
		if errors.Is(err, net.ErrClosed) {
			return received, nil
		}
		if err != nil {
			return received, err
		}
		if n != probeSize {
			return received, fmt.Errorf("%d-byte datagram from %s; probes have %d", n, from, probeSize)
		}
		seq := binary.BigEndian.Uint32(b[1:])
		switch b[0] {
		case probeKindFence:
			fences <- seq
		case probeKindData:
			if int(seq) >= count || seen[seq] {
				return received, fmt.Errorf("datagram %d arrived twice or was never sent", seq)
			}
			seen[seq] = true
			received++
		default:
			return received, fmt.Errorf("datagram of unknown kind %q from %s", b[0], from)
		}
	}
}
