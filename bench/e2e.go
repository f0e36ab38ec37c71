package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// The e2e scenarios measure what a user runs: text lines written at one end
// and printed at the other. udpchat-cli is two udpchat processes in line
// mode with their stores (sys_cli.go); beside it raw-udp carries the same
// lines one datagram each, nothing retried (the network's floor), and
// sqlite-commit stores each in a commit of its own (the disk's floor).

// A pipe carries text lines one way: write at one end; each line reaches
// the other end's onLine (given to the pipeSystem) from one receiving
// goroutine, in the order it arrives.
type pipe interface {
	// write sends one line, without its newline. It may block while the
	// system is busy (a full pipe, a commit in progress).
	write(line []byte) error
}

// A pipeSystem sets up its system, warms it up (the first line through is
// not timed), runs body on it inside measure, and tears it down.
type pipeSystem func(ctx context.Context, sys *system, seed uint64, onLine func([]byte), body func(pipe) (sample, error)) (sample, error)

// seqDigits is how a line starts: its sequence number, zero-padded.
const seqDigits = 7

// lineText is a line's text after its number: 60 bytes a line in all, as a
// short chat message or a log line is.
const lineText = " the quick brown fox jumps over the lazy dogs, piped!"

// makeLines returns n distinct lines, numbered from 0.
func makeLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, "%0*d%s", seqDigits, i, lineText)
	}
	return lines
}

// lineSeq is the number a line starts with, or -1 if it is not one of
// lines, exactly.
func lineSeq(lines [][]byte, line []byte) int {
	if len(line) < seqDigits {
		return -1
	}
	seq, err := strconv.Atoi(string(line[:seqDigits]))
	if err != nil || seq < 0 || seq >= len(lines) || string(lines[seq]) != string(line) {
		return -1
	}
	return seq
}

// arrival is one line at the receiving end: its number, or -1 for a line
// that is none of those sent, and when it came.
type arrival struct {
	seq int
	at  int64 // stamp()
}

// receipt checks the lines that arrive, in the receiving goroutine: each
// one must be the next of those sent, exactly once and intact.
type receipt struct {
	lines      [][]byte
	next       int          // owned by the receiving goroutine
	seen       []bool       // by seq; owned by the receiving goroutine
	delivered  atomic.Int64 // distinct lines sent that arrived
	misordered atomic.Int64 // arrivals out of order, repeated, or not a line sent
	lastAt     atomic.Int64 // stamp of the latest arrival
	all        chan struct{}
	// arrivals, if set, is told of each line (without blocking: the
	// receiving goroutine never waits for the scenario).
	arrivals chan arrival
}

func newReceipt(lines [][]byte) *receipt {
	return &receipt{lines: lines, seen: make([]bool, len(lines)), all: make(chan struct{})}
}

func (r *receipt) onLine(line []byte) {
	at := stamp()
	seq := lineSeq(r.lines, line)
	switch {
	case seq < 0:
		r.misordered.Add(1)
	case seq != r.next:
		r.misordered.Add(1)
		r.next = seq + 1
	default:
		r.next++
	}
	if r.arrivals != nil {
		select {
		case r.arrivals <- arrival{seq, at}:
		default:
		}
	}
	if seq < 0 || r.seen[seq] {
		return
	}
	r.seen[seq] = true
	r.lastAt.Store(at)
	if r.delivered.Add(1) == int64(len(r.lines)) {
		close(r.all)
	}
}

// result fills in what the receipt counted: for a reliable system, a line
// out of order, twice or garbled is a bug the table shows.
func (r *receipt) result(s *sample, sys *system) {
	s.delivered = r.delivered.Load()
	if sys.reliable {
		s.misordered = r.misordered.Load()
	}
}

// runE2E writes p.e2eLines lines into the pipe as fast as it takes them and
// times from the first line written to the last one arriving. The run ends
// when every line has arrived, when the time bound passes, or (raw UDP,
// which loses what a socket buffer cannot hold) when the last line has been
// written and nothing has arrived for a while (idleSince).
func runE2E(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
	lines := makeLines(p.e2eLines)
	rec := newReceipt(lines)
	return sys.withPipe(ctx, sys, seed, rec.onLine, func(w pipe) (sample, error) {
		var sent atomic.Int64
		stop := make(chan struct{})
		defer close(stop)
		written := make(chan error, 1)
		start := stamp()
		deadline := time.Now().Add(p.e2eTime)
		// The writer has a goroutine of its own so that a system that stops
		// reading cannot hold the run past its bound: its teardown ends the
		// blocked write.
		go func() {
			for _, l := range lines {
				select {
				case <-stop:
					written <- nil
					return
				default:
				}
				sent.Add(1) // counted first: it may arrive before write returns
				if err := w.write(l); err != nil {
					written <- err
					return
				}
			}
			written <- nil
		}()
		var writtenAt time.Time // when the writer was seen done
		incomplete, err := awaitArrival(ctx, rec.all, deadline, func() (bool, error) {
			if writtenAt.IsZero() {
				select {
				case err := <-written:
					if err != nil {
						return true, fmt.Errorf("line %d: %w", sent.Load()-1, err)
					}
					writtenAt = time.Now()
				default:
					return false, nil
				}
			}
			return !sys.reliable && idleSince(writtenAt, rec.lastAt.Load()), nil
		})
		if err != nil {
			return sample{}, err
		}
		s := sample{sent: sent.Load(), retransmits: -1, packetsLost: -1}
		rec.result(&s, sys)
		s.incomplete = incomplete && s.delivered < int64(len(lines))
		end := rec.lastAt.Load()
		if incomplete {
			end = stamp()
		}
		if el := time.Duration(end - start); el > 0 && s.delivered > 0 {
			s.msgsPerS, s.hasRate = float64(s.delivered)/el.Seconds(), true
		}
		return s, nil
	})
}

// runLone writes one line, waits for it at the other end, waits out
// p.loneGap (a person types far slower; the pause lets the sender finish
// what follows a delivery, so that each line finds both ends idle), and
// again, p.loneCount times: the time from writing a line to its arrival.
// A line raw UDP loses is counted, not waited for.
func runLone(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
	lines := makeLines(p.loneCount)
	rec := newReceipt(lines)
	rec.arrivals = make(chan arrival, 16)
	return sys.withPipe(ctx, sys, seed, rec.onLine, func(w pipe) (sample, error) {
		lats := make([]time.Duration, 0, len(lines))
		deadline := time.Now().Add(p.loneTime)
		lossWait := time.Second // raw UDP: a line not here by then is lost
		wait := time.NewTimer(time.Hour)
		defer wait.Stop()
		sent := 0
		for sent < len(lines) && time.Now().Before(deadline) {
			t0 := stamp()
			if err := w.write(lines[sent]); err != nil {
				return sample{}, fmt.Errorf("line %d: %w", sent, err)
			}
			sent++
			if sys.reliable {
				wait.Reset(10 * time.Second)
			} else {
				wait.Reset(lossWait)
			}
		await:
			for {
				select {
				case a := <-rec.arrivals:
					if a.seq != sent-1 {
						continue // a late line given up on, or garbage the receipt counted
					}
					lats = append(lats, time.Duration(a.at-t0))
					break await
				case <-wait.C:
					if sys.reliable {
						return sample{}, fmt.Errorf("line %d not printed in 10s", sent-1)
					}
					break await
				case <-ctx.Done():
					return sample{}, ctx.Err()
				}
			}
			wait.Reset(time.Until(base.Add(time.Duration(t0)).Add(p.loneGap)))
			select {
			case <-wait.C:
			case <-ctx.Done():
				return sample{}, ctx.Err()
			}
		}
		s := sample{sent: int64(sent), retransmits: -1, packetsLost: -1}
		rec.result(&s, sys)
		if len(lats) == 0 {
			return s, errors.New("no line arrived")
		}
		s.p50, s.p99, s.hasLatency = percentiles(lats)
		return s, nil
	})
}

// viaLink is the pipeSystem of a system with a link (raw-udp): each line
// is one message from side 0 to side 1.
func viaLink(ctx context.Context, sys *system, seed uint64, onLine func([]byte), body func(pipe) (sample, error)) (sample, error) {
	recv := func(side int, m []byte) {
		if side == 1 {
			onLine(m)
		}
	}
	return withLink(ctx, sys, 0, seed, recv, func(l link) (sample, error) {
		return body(linkPipe{l})
	})
}

type linkPipe struct{ l link }

func (p linkPipe) write(line []byte) error { return p.l.send(0, [][]byte{line}) }
