package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Message kinds, the first byte of every message the benchmark sends.
const (
	kindWarmup = 'w'
	kindData   = 'd' // throughput: seq in bytes 1..9
	kindPing   = 'p' // rtt: seq; the server echoes it as kindPong
	kindPong   = 'q'
	kindTimed  = 't' // paced: seq, then the send time in bytes 9..17
	kindBig    = 'b' // big: seq
)

const (
	messageSize    = 100
	bigMessageSize = 256 << 10
)

// handshakeMsg is the first message a dialer sends.
var handshakeMsg = make([]byte, messageSize)

// base is the origin of the timestamps carried in messages: monotonic, and
// shared, since both ends run in this process.
var base = time.Now()

func stamp() int64 { return int64(time.Since(base)) }

// params bound every scenario in count and in time; the first bound reached
// ends a run.
type params struct {
	rounds          int
	throughputCount int
	throughputTime  time.Duration
	rttCount        int
	rttTime         time.Duration
	pacedRate       int // messages a second
	pacedTime       time.Duration
	loss10Count     int
	loss30Count     int // fewer: under 30% loss everything goes slower
	lossTime        time.Duration
	bigCount        int
	bigTime         time.Duration
	handshakeCount  int
	handshakeTime   time.Duration
	// The e2e scenarios: lines piped through (e2e), and lone lines, each
	// waited for, loneGap apart (e2e-lone); e2eRounds replaces rounds for
	// both, as one round of e2e takes minutes.
	e2eLines  int
	e2eTime   time.Duration
	loneCount int
	loneTime  time.Duration
	loneGap   time.Duration
	e2eRounds int
}

var (
	fullParams = params{
		rounds:          5,
		throughputCount: 200_000, throughputTime: 10 * time.Second,
		rttCount: 20_000, rttTime: 5 * time.Second,
		pacedRate: 10_000, pacedTime: 2 * time.Second,
		loss10Count: 100_000, loss30Count: 20_000, lossTime: 15 * time.Second,
		bigCount: 20, bigTime: 10 * time.Second,
		handshakeCount: 200, handshakeTime: 5 * time.Second,
		e2eLines: 100_000, e2eTime: 5 * time.Minute,
		loneCount: 500, loneTime: 30 * time.Second, loneGap: 10 * time.Millisecond,
		e2eRounds: 1,
	}
	quickParams = params{
		rounds:          3,
		throughputCount: 50_000, throughputTime: 2 * time.Second,
		rttCount: 5_000, rttTime: 1 * time.Second,
		pacedRate: 10_000, pacedTime: 500 * time.Millisecond,
		loss10Count: 20_000, loss30Count: 5_000, lossTime: 4 * time.Second,
		bigCount: 5, bigTime: 2 * time.Second,
		handshakeCount: 30, handshakeTime: 1 * time.Second,
		e2eLines: 10_000, e2eTime: time.Minute,
		loneCount: 100, loneTime: 10 * time.Second, loneGap: 10 * time.Millisecond,
		e2eRounds: 1,
	}
	// smokeParams: the tests' tiny runs.
	smokeParams = params{
		rounds:          1,
		throughputCount: 300, throughputTime: 5 * time.Second,
		rttCount: 50, rttTime: 5 * time.Second,
		pacedRate: 10_000, pacedTime: 30 * time.Millisecond,
		loss10Count: 200, loss30Count: 200, lossTime: 10 * time.Second,
		bigCount: 2, bigTime: 10 * time.Second,
		handshakeCount: 3, handshakeTime: 10 * time.Second,
		e2eLines: 200, e2eTime: 30 * time.Second,
		loneCount: 10, loneTime: 10 * time.Second, loneGap: time.Millisecond,
		e2eRounds: 1,
	}
)

// sample is what one run of one system in one scenario measured.
type sample struct {
	msgsPerS      float64
	hasRate       bool
	p50, p99      time.Duration
	hasLatency    bool
	cpuPerMsg     time.Duration
	sent          int64
	delivered     int64
	retransmits   int64 // -1: not counted
	packetsLost   int64 // -1: not counted
	datagrams     int64 // written by the system, both sides (udpchat only)
	rcvbufErrors  int64 // the kernel's UDP RcvbufErrors over the run (all sockets on the machine); -1: unknown
	dgramsSent    int64 // through the loss wrapper
	dgramsDropped int64
	misordered    int64 // a reliable system delivered out of order or twice
	incomplete    bool  // the time bound ended the run before everything arrived
}

// scenario is one row group of the table.
type scenario struct {
	name string
	desc string
	// figure names the number compared across systems: "msgs/s", "p50" or "p99".
	figure string
	// lossless: on clean loopback; sent must equal delivered, and udpchat
	// must not retransmit.
	lossless bool
	// e2e: the scenario's rounds are params.e2eRounds, not params.rounds.
	e2e     bool
	applies func(sys *system) bool
	run     func(ctx context.Context, sys *system, p *params, seed uint64) (sample, error)
}

func (s *scenario) higherBetter() bool { return s.figure == "msgs/s" }

func (s *scenario) value(x *sample) float64 {
	switch s.figure {
	case "p50":
		return float64(x.p50)
	case "p99":
		return float64(x.p99)
	}
	return x.msgsPerS
}

var scenarios = []*scenario{
	{
		name: "throughput", figure: "msgs/s", lossless: true,
		desc:    "saturating one-way throughput, 100-byte messages, sent in bursts of 64",
		applies: func(sys *system) bool { return sys.newLink != nil },
		run: func(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
			return runThroughput(ctx, sys, p.throughputCount, p.throughputTime, 0, seed)
		},
	},
	{
		name: "rtt", figure: "p50", lossless: true,
		desc:    "ping-pong round trip, 100-byte messages, client and server in this process on two sockets",
		applies: func(sys *system) bool { return sys.newLink != nil && !sys.batchOnly },
		run:     runRTT,
	},
	{
		name: "paced", figure: "p99", lossless: true,
		desc:    "one-way latency at 10k msgs/s, 100-byte messages, send time in the payload",
		applies: func(sys *system) bool { return sys.newLink != nil && !sys.batchOnly },
		run:     runPaced,
	},
	{
		name: "loss10", figure: "msgs/s",
		desc:    "throughput with 10% of the sender's datagrams dropped (seeded, same pattern for all)",
		applies: func(sys *system) bool { return sys.lossy },
		run: func(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
			return runThroughput(ctx, sys, p.loss10Count, p.lossTime, 0.10, seed)
		},
	},
	{
		name: "loss30", figure: "msgs/s",
		desc:    "throughput with 30% of the sender's datagrams dropped (seeded, same pattern for all)",
		applies: func(sys *system) bool { return sys.lossy },
		run: func(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
			return runThroughput(ctx, sys, p.loss30Count, p.lossTime, 0.30, seed)
		},
	},
	{
		name: "big256k", figure: "p50", lossless: true,
		desc:    "one 256 KiB message at a time: time from send to delivery",
		applies: func(sys *system) bool { return sys.newLink != nil && sys.reliable },
		run:     runBig,
	},
	{
		name: "handshake", figure: "msgs/s",
		desc:    "fresh connection to first message delivered, handshakes/s (client socket creation included)",
		applies: func(sys *system) bool { return sys.newDialer != nil },
		run:     runHandshake,
	},
	{
		name: "e2e", figure: "msgs/s", lossless: true, e2e: true,
		desc:    "60-byte lines piped in at one end as fast as it takes them: msgs/s from the first line written to the last printed at the other end",
		applies: func(sys *system) bool { return sys.withPipe != nil },
		run:     runE2E,
	},
	{
		name: "e2e-lone", figure: "p50", lossless: true, e2e: true,
		desc:    "one line at a time, as a person types: time from writing it to its printing at the other end",
		applies: func(sys *system) bool { return sys.withPipe != nil },
		run:     runLone,
	},
}

// rcvbufErrors is the kernel's count of UDP datagrams dropped for want of
// receive-buffer room (/proc/net/snmp Udp RcvbufErrors), or -1. It covers
// every socket on the machine: a diagnostic, not a measurement.
func rcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(fields) {
				v, err := strconv.ParseInt(fields[i], 10, 64)
				if err != nil {
					return -1
				}
				return v
			}
		}
		return -1
	}
	return -1
}

// cpuTime is this process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dispatcher routes received messages: warm-up messages to the warm-up, the
// rest to the scenario.
type dispatcher struct {
	warm [2]chan struct{}
	fn   func(side int, msg []byte)
}

func newDispatcher(fn func(int, []byte)) *dispatcher {
	return &dispatcher{warm: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}, fn: fn}
}

func (d *dispatcher) onRecv(side int, msg []byte) {
	if len(msg) > 0 && msg[0] == kindWarmup {
		select {
		case d.warm[side] <- struct{}{}:
		default:
		}
		return
	}
	d.fn(side, msg)
}

// withLink makes a link of sys, warms it up (one message each way, so every
// handshake is done), and measures body: CPU time, and the system's own
// counters, around it.
func withLink(ctx context.Context, sys *system, loss float64, seed uint64, recv func(int, []byte),
	body func(l link) (sample, error)) (sample, error) {
	d := newDispatcher(recv)
	l, err := sys.newLink(ctx, linkOptions{onRecv: d.onRecv, loss: loss, seed: seed})
	if err != nil {
		return sample{}, fmt.Errorf("set up: %w", err)
	}
	defer l.close()
	warm := make([]byte, messageSize)
	warm[0] = kindWarmup
	for side := range 2 {
		if err := l.send(side, [][]byte{warm}); err != nil {
			return sample{}, fmt.Errorf("warm-up: %w", err)
		}
		select {
		case <-d.warm[1-side]:
		case <-time.After(10 * time.Second):
			return sample{}, errors.New("warm-up: no answer in 10s")
		case <-ctx.Done():
			return sample{}, ctx.Err()
		}
	}
	base := l.stats(ctx)
	s, err := measure(func() (sample, error) { return body(l) }, nil)
	if err != nil {
		return s, err
	}
	st := l.stats(ctx)
	s.retransmits, s.packetsLost = -1, -1
	if st.retransmits >= 0 {
		s.retransmits = st.retransmits - base.retransmits
	}
	if st.packetsLost >= 0 {
		s.packetsLost = st.packetsLost - base.packetsLost
	}
	s.dgramsSent, s.dgramsDropped = st.dgramsSent-base.dgramsSent, st.dgramsDropped-base.dgramsDropped
	s.datagrams = st.datagrams - base.datagrams
	return s, nil
}

// measure runs body and adds to its sample the CPU time the run took per
// message delivered — this process's, plus what children (if not nil)
// reports for the processes it started — and the kernel's receive-buffer
// drops over it.
func measure(body func() (sample, error), children func() time.Duration) (sample, error) {
	runtime.GC()
	rb0 := rcvbufErrors()
	cpu0 := cpuTime()
	var child0 time.Duration
	if children != nil {
		child0 = children()
	}
	s, err := body()
	cpu := cpuTime() - cpu0
	if children != nil {
		cpu += children() - child0
	}
	s.rcvbufErrors = -1
	if rb1 := rcvbufErrors(); rb0 >= 0 && rb1 >= 0 {
		s.rcvbufErrors = rb1 - rb0
	}
	if err != nil {
		return s, err
	}
	if n := max(s.delivered, 1); cpu > 0 {
		s.cpuPerMsg = cpu / time.Duration(n)
	}
	return s, nil
}

// runThroughput sends count 100-byte messages one way, in bursts of
// batchSize, as fast as the system takes them, and counts what arrives.
// msgs/s is what was delivered over the time from the first send to the
// last delivery. The run ends when everything has arrived, when the time
// bound passes, or (for raw UDP, which loses what the socket buffer cannot
// hold) when nothing more has arrived for idleEnd after the last send.
func runThroughput(ctx context.Context, sys *system, count int, bound time.Duration, loss float64, seed uint64) (sample, error) {
	var (
		delivered, misordered atomic.Int64
		lastAt                atomic.Int64 // stamp of the latest delivery
		next                  uint64       // owned by the receiving goroutine
		done                  = make(chan struct{})
	)
	recv := func(side int, m []byte) {
		if side != 1 || m[0] != kindData {
			return
		}
		if seq := binary.BigEndian.Uint64(m[1:9]); seq != next {
			misordered.Add(1)
			next = seq + 1
		} else {
			next++
		}
		lastAt.Store(stamp())
		if delivered.Add(1) == int64(count) {
			close(done)
		}
	}
	return withLink(ctx, sys, loss, seed, recv, func(l link) (sample, error) {
		batch := make([][]byte, batchSize)
		for i := range batch {
			batch[i] = make([]byte, messageSize)
			batch[i][0] = kindData
		}
		start := stamp()
		deadline := time.Now().Add(bound)
		sent := 0
		for sent < count && time.Now().Before(deadline) {
			k := min(batchSize, count-sent)
			for i := range k {
				binary.BigEndian.PutUint64(batch[i][1:9], uint64(sent+i))
			}
			if err := l.send(0, batch[:k]); err != nil {
				return sample{}, fmt.Errorf("send: %w", err)
			}
			sent += k
		}
		sentAt := time.Now()
		incomplete, err := awaitArrival(ctx, done, deadline, func() (bool, error) {
			return !sys.reliable && idleSince(sentAt, lastAt.Load()), nil
		})
		if err != nil {
			return sample{}, err
		}
		n := delivered.Load()
		end := lastAt.Load()
		if incomplete {
			end = stamp()
		}
		s := sample{sent: int64(sent), delivered: n, incomplete: incomplete && n < int64(sent)}
		if sys.reliable {
			s.misordered = misordered.Load()
		}
		if el := time.Duration(end - start); el > 0 && n > 0 {
			s.msgsPerS, s.hasRate = float64(n)/el.Seconds(), true
		}
		return s, nil
	})
}

// awaitArrival waits until all is closed (everything arrived), the deadline
// passes (incomplete), ctx ends, or check, polled every 20 ms, says the run
// is over or has failed.
func awaitArrival(ctx context.Context, all <-chan struct{}, deadline time.Time, check func() (over bool, err error)) (incomplete bool, err error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-all:
			return false, nil
		case <-timer.C:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
			if over, err := check(); over || err != nil {
				return false, err
			}
		}
	}
}

// idleSince says whether an unreliable system's run is over: nothing sent
// since sentAt and nothing delivered since lastAt (a stamp) for 200 ms.
// What has not arrived by then is lost.
func idleSince(sentAt time.Time, lastAt int64) bool {
	const idleEnd = 200 * time.Millisecond
	return time.Since(sentAt) > idleEnd && time.Duration(stamp()-lastAt) > idleEnd
}

// runRTT does ping-pong: the client sends a 100-byte ping, the server's
// receiving goroutine echoes it at once, the client waits for the echo
// before the next. Both ends are in this process, on two sockets.
func runRTT(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
	pong := make(chan uint64, 1)
	var echo atomic.Pointer[link] // set before the first ping
	var echoErr atomic.Value
	recv := func(side int, m []byte) {
		switch {
		case side == 1 && m[0] == kindPing:
			q := append([]byte(nil), m...)
			q[0] = kindPong
			if err := (*echo.Load()).send(1, [][]byte{q}); err != nil {
				echoErr.Store(err)
			}
		case side == 0 && m[0] == kindPong:
			select {
			case pong <- binary.BigEndian.Uint64(m[1:9]):
			default:
			}
		}
	}
	return withLink(ctx, sys, 0, seed, recv, func(l link) (sample, error) {
		echo.Store(&l)
		ping := make([]byte, messageSize)
		ping[0] = kindPing
		rtts := make([]time.Duration, 0, p.rttCount)
		deadline := time.Now().Add(p.rttTime)
		sent, lost := 0, 0
		start := time.Now()
		wait := time.NewTimer(time.Hour)
		defer wait.Stop()
		for sent < p.rttCount && time.Now().Before(deadline) {
			seq := uint64(sent)
			binary.BigEndian.PutUint64(ping[1:9], seq)
			t0 := time.Now()
			if err := l.send(0, [][]byte{ping}); err != nil {
				return sample{}, fmt.Errorf("ping: %w", err)
			}
			sent++
			wait.Reset(time.Second)
		await:
			for {
				select {
				case got := <-pong:
					if got != seq {
						continue // a late echo of a ping given up on
					}
					rtts = append(rtts, time.Since(t0))
					break await
				case <-wait.C:
					if sys.reliable {
						return sample{}, fmt.Errorf("no echo of ping %d in 1s", seq)
					}
					lost++
					break await
				case <-ctx.Done():
					return sample{}, ctx.Err()
				}
			}
		}
		el := time.Since(start)
		if err, _ := echoErr.Load().(error); err != nil {
			return sample{}, fmt.Errorf("echo: %w", err)
		}
		s := sample{sent: int64(sent), delivered: int64(len(rtts))}
		s.p50, s.p99, s.hasLatency = percentiles(rtts)
		s.msgsPerS, s.hasRate = float64(len(rtts))/el.Seconds(), true
		return s, nil
	})
}

// runPaced sends 100-byte messages at a steady rate, each carrying its send
// time, and records each one's one-way latency on arrival (the clock is
// shared: both ends are in this process). The sender sleeps with nanosleep
// on a locked thread with a 1 ns timer slack, as Go's timers round short
// sleeps up to about a millisecond here, which would send bursts of ten.
func runPaced(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
	total := int(p.pacedTime.Seconds() * float64(p.pacedRate))
	lat := make([]atomic.Int64, total) // one-way latency by seq; 0 until it arrives
	var delivered atomic.Int64
	done := make(chan struct{})
	recv := func(side int, m []byte) {
		if side != 1 || m[0] != kindTimed {
			return
		}
		seq := binary.BigEndian.Uint64(m[1:9])
		if seq >= uint64(total) {
			return
		}
		lat[seq].Store(max(stamp()-int64(binary.BigEndian.Uint64(m[9:17])), 1))
		if delivered.Add(1) == int64(total) {
			close(done)
		}
	}
	return withLink(ctx, sys, 0, seed, recv, func(l link) (sample, error) {
		errc := make(chan error, 1)
		var sent int
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			setTimerSlack(1)
			defer setTimerSlack(50_000) // the Linux default, for the thread's next user
			msg := make([]byte, messageSize)
			msg[0] = kindTimed
			one := [][]byte{msg}
			interval := time.Second / time.Duration(p.pacedRate)
			start := time.Now()
			for sent < total {
				due := min(int(time.Since(start)/interval)+1, total)
				for sent < due {
					binary.BigEndian.PutUint64(msg[1:9], uint64(sent))
					binary.BigEndian.PutUint64(msg[9:17], uint64(stamp()))
					if err := l.send(0, one); err != nil {
						errc <- err
						return
					}
					sent++
				}
				if ctx.Err() != nil {
					errc <- ctx.Err()
					return
				}
				if wait := time.Until(start.Add(time.Duration(sent) * interval)); wait > 0 {
					ts := syscall.NsecToTimespec(int64(wait))
					syscall.Nanosleep(&ts, nil)
				}
			}
			errc <- nil
		}()
		if err := <-errc; err != nil {
			return sample{}, fmt.Errorf("send: %w", err)
		}
		select {
		case <-done:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return sample{}, ctx.Err()
		}
		n := delivered.Load()
		got := make([]time.Duration, 0, n)
		for i := range lat {
			if d := lat[i].Load(); d > 0 {
				got = append(got, time.Duration(d))
			}
		}
		s := sample{sent: int64(sent), delivered: n}
		s.p50, s.p99, s.hasLatency = percentiles(got)
		s.msgsPerS, s.hasRate = float64(n)/p.pacedTime.Seconds(), true
		return s, nil
	})
}

func setTimerSlack(ns uintptr) {
	const prSetTimerSlack = 29
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, ns, 0)
}

// runBig sends one 256 KiB message at a time and times each from Send to
// its delivery.
func runBig(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
	got := make(chan time.Time, 1)
	recv := func(side int, m []byte) {
		if side == 1 && m[0] == kindBig && len(m) == bigMessageSize {
			notify(got)
		}
	}
	return withLink(ctx, sys, 0, seed, recv, func(l link) (sample, error) {
		msg := make([]byte, bigMessageSize)
		for i := range msg {
			msg[i] = byte(i)
		}
		msg[0] = kindBig
		var lats []time.Duration
		deadline := time.Now().Add(p.bigTime)
		start := time.Now()
		sent := 0
		for sent < p.bigCount && time.Now().Before(deadline) {
			t0 := time.Now()
			if err := l.send(0, [][]byte{msg}); err != nil {
				return sample{}, fmt.Errorf("send: %w", err)
			}
			sent++
			select {
			case at := <-got:
				lats = append(lats, at.Sub(t0))
			case <-time.After(10 * time.Second):
				return sample{}, fmt.Errorf("256 KiB message %d not delivered in 10s", sent)
			case <-ctx.Done():
				return sample{}, ctx.Err()
			}
		}
		s := sample{sent: int64(sent), delivered: int64(len(lats))}
		s.p50, s.p99, s.hasLatency = percentiles(lats)
		s.msgsPerS, s.hasRate = float64(len(lats))/time.Since(start).Seconds(), true
		return s, nil
	})
}

// runHandshake makes fresh connections one after another; msgs/s is
// handshakes a second over the timed part of each (dialer), CPU includes
// the untimed set-up and teardown.
func runHandshake(ctx context.Context, sys *system, p *params, _ uint64) (sample, error) {
	d, err := sys.newDialer(ctx)
	if err != nil {
		return sample{}, fmt.Errorf("set up: %w", err)
	}
	defer d.close()
	runtime.GC()
	cpu0 := cpuTime()
	var lats []time.Duration
	var sum time.Duration
	deadline := time.Now().Add(p.handshakeTime)
	sent := 0
	for sent < p.handshakeCount && time.Now().Before(deadline) {
		sent++
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		dur, err := d.once(octx)
		cancel()
		if err != nil {
			return sample{}, fmt.Errorf("handshake %d: %w", sent, err)
		}
		lats = append(lats, dur)
		sum += dur
	}
	cpu := cpuTime() - cpu0
	s := sample{sent: int64(sent), delivered: int64(len(lats)), retransmits: -1, packetsLost: -1, rcvbufErrors: -1}
	s.p50, s.p99, s.hasLatency = percentiles(lats)
	if sum > 0 {
		s.msgsPerS, s.hasRate = float64(len(lats))/sum.Seconds(), true
	}
	if len(lats) > 0 {
		s.cpuPerMsg = cpu / time.Duration(len(lats))
	}
	return s, nil
}

// percentiles returns the 50th and 99th percentiles (nearest rank).
func percentiles(xs []time.Duration) (p50, p99 time.Duration, ok bool) {
	if len(xs) == 0 {
		return 0, 0, false
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(xs))+0.999999) - 1
		return xs[max(0, min(i, len(xs)-1))]
	}
	return rank(0.50), rank(0.99), true
}
