package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// rawLink is plain UDP: one sendto per message, one recvfrom per datagram.
// With batch set it uses sendmmsg/recvmmsg (golang.org/x/net/ipv4
// WriteBatch/ReadBatch), batchSize datagrams a call. Nothing is retried: a
// datagram the receiver's socket buffer has no room for is gone.
type rawLink struct {
	conns [2]*net.UDPConn
	addrs [2]netip.AddrPort
	pcs   [2]*ipv4.PacketConn // batch only
	batch bool
	wmsgs [2][]ipv4.Message // send's scratch, per side
	wg    sync.WaitGroup
}

const batchSize = 64

func newRawLink(batch bool) func(context.Context, linkOptions) (link, error) {
	return func(_ context.Context, o linkOptions) (link, error) {
		l := &rawLink{batch: batch}
		for i := range l.conns {
			c, err := listenUDP()
			if err != nil {
				l.close()
				return nil, err
			}
			l.conns[i] = c
			l.addrs[i] = c.LocalAddr().(*net.UDPAddr).AddrPort()
			if batch {
				l.pcs[i] = ipv4.NewPacketConn(c)
				l.wmsgs[i] = make([]ipv4.Message, batchSize)
			}
		}
		for i := range l.conns {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				if batch {
					l.readBatch(i, o.onRecv)
				} else {
					l.read(i, o.onRecv)
				}
			}()
		}
		return l, nil
	}
}

func (l *rawLink) read(side int, onRecv func(int, []byte)) {
	buf := make([]byte, 65536)
	for {
		n, _, err := l.conns[side].ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		onRecv(side, buf[:n])
	}
}

func (l *rawLink) readBatch(side int, onRecv func(int, []byte)) {
	ms := make([]ipv4.Message, batchSize)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	for {
		n, err := l.pcs[side].ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		for i := range ms[:n] {
			onRecv(side, ms[i].Buffers[0][:ms[i].N])
		}
	}
}

func (l *rawLink) send(side int, msgs [][]byte) error {
	to := l.addrs[1-side]
	if !l.batch {
		for _, m := range msgs {
			if _, err := l.conns[side].WriteToUDPAddrPort(m, to); err != nil {
				return err
			}
		}
		return nil
	}
	addr := udpAddr(to)
	ws := l.wmsgs[side]
	for len(msgs) > 0 {
		k := min(len(msgs), len(ws))
		for i := range k {
			ws[i] = ipv4.Message{Buffers: msgs[i : i+1], Addr: addr}
		}
		n, err := l.pcs[side].WriteBatch(ws[:k], 0)
		if err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (l *rawLink) stats(context.Context) linkStats {
	return linkStats{retransmits: -1, packetsLost: -1}
}

func (l *rawLink) close() error {
	for _, c := range l.conns {
		if c != nil {
			c.Close()
		}
	}
	l.wg.Wait()
	return nil
}
