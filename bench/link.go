package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
)

// A link is a connected pair of endpoints of one system in this process: side
// 0 (the client, which dials) and side 1 (the server). Messages one side sends
// reach the other side's onRecv.
type link interface {
	// send hands msgs, in order, to the system on the given side. It may
	// block for flow control. A system that can write several messages in one
	// call (raw-udp-batch) does; the others take them one at a time.
	send(side int, msgs [][]byte) error
	// stats reports what the system counts itself (zero where it does not).
	stats(ctx context.Context) linkStats
	// close tears both sides down and waits for their goroutines.
	close() error
}

// linkOptions say how to build a link.
type linkOptions struct {
	// onRecv is called for every message a side receives, from that side's
	// receiving goroutine (one per side, so calls for one side never overlap).
	// msg is only valid during the call.
	onRecv func(side int, msg []byte)
	// loss, if above zero, drops that share of the datagrams side 0 writes,
	// through lossDropper (the same decisions for every system).
	loss float64
	seed uint64
}

type linkStats struct {
	retransmits   int64 // chunks or segments sent again; -1 if the system does not count them
	packetsLost   int64 // packets the sender declared lost; -1 if not counted
	datagrams     int64 // datagrams written, both sides; 0 if not counted
	dgramsSent    int64 // datagrams side 0 wrote through the loss wrapper
	dgramsDropped int64 // of which dropped
}

// system is one entry of the benchmark's constructor table.
type system struct {
	name string
	// peer: a competitor, one of those the "ratio to best peer" column
	// compares against (not raw UDP, not udpchat itself).
	peer bool
	// reliable: delivers every message exactly once, in order.
	reliable bool
	// lossy: can run through the loss wrapper (the loss scenarios).
	lossy bool
	// batchOnly: only in the throughput scenario (raw-udp-batch).
	batchOnly bool
	// newLink makes a connected pair in this process; nil for a system that
	// only carries lines (the e2e scenarios).
	newLink func(ctx context.Context, o linkOptions) (link, error)
	// newDialer, if set, measures connection set-up (the handshake scenario).
	newDialer func(ctx context.Context) (dialer, error)
	// withPipe, if set, carries text lines one way (the e2e scenarios): see
	// pipeSystem.
	withPipe pipeSystem
}

// A dialer makes fresh connections to a server that is already listening
// (for udpchat, a fresh pair of endpoints each time, the server's made before
// the clock starts) and times each from nothing on the client side (no
// socket) to the first message delivered to the server. Tearing the
// connection down is not timed.
type dialer interface {
	once(ctx context.Context) (time.Duration, error)
	close() error
}

// socketBuffer is what every socket here asks for, as udp.Listen does, so
// that the systems start level.
const socketBuffer = udp.SocketBufferSize

// listenUDP opens a loopback UDP socket with socketBuffer-sized buffers
// (SO_*BUFFORCE first, as udp.Listen does, then the capped calls).
func listenUDP() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	rerr, werr := errors.ErrUnsupported, errors.ErrUnsupported
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			rerr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, socketBuffer)
			werr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, socketBuffer)
		})
	}
	if rerr != nil {
		_ = c.SetReadBuffer(socketBuffer)
	}
	if werr != nil {
		_ = c.SetWriteBuffer(socketBuffer)
	}
	return c, nil
}

// lossDropper decides which datagrams to drop exactly as udptest.Impair does for
// the same Loss and Seed: the same PCG seeding and six draws per write, the
// first deciding loss. So udpchat (through udptest.Impair) and kcp-go and
// quic-go (through lossyPacketConn) lose the same datagrams by write index.
type lossDropper struct {
	loss float64
	mu   sync.Mutex
	rng  *rand.Rand

	sent, dropped atomic.Int64
}

func newLossDropper(loss float64, seed uint64) *lossDropper {
	return &lossDropper{loss: loss, rng: rand.New(rand.NewPCG(seed, 0x75647063686174))}
}

func (d *lossDropper) drop() bool {
	var u [6]float64
	d.mu.Lock()
	for i := range u {
		u[i] = d.rng.Float64()
	}
	d.mu.Unlock()
	if u[0] < d.loss {
		d.dropped.Add(1)
		return true
	}
	d.sent.Add(1)
	return false
}

// lossyPacketConn is a net.PacketConn that drops written datagrams as
// lossDropper decides; reads pass through. It hides *net.UDPConn's batch
// and OOB methods, so kcp-go and quic-go fall back to one datagram a call,
// as udpchat's transport does behind udptest.Impair (which is not a
// udp.BatchConn).
type lossyPacketConn struct {
	net.PacketConn
	d *lossDropper
}

func (c *lossyPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.d.drop() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// SetReadBuffer and SetWriteBuffer let quic-go size the buffers as it would
// on a bare socket.
func (c *lossyPacketConn) SetReadBuffer(n int) error {
	return c.PacketConn.(*net.UDPConn).SetReadBuffer(n)
}

func (c *lossyPacketConn) SetWriteBuffer(n int) error {
	return c.PacketConn.(*net.UDPConn).SetWriteBuffer(n)
}

// Framing for the stream systems (TCP, quic-go, kcp-go): a 4-byte big-endian
// length, then the message; each message goes out in one Write.

const frameHeader = 4

// maxFrame bounds a frame's length: the largest message the benchmark sends.
const maxFrame = bigMessageSize

// appendFrame appends msg's frame to b.
func appendFrame(b, msg []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	return append(b, msg...)
}

// readFrames reads frames from r until it fails, calling onRecv for each.
// A clean end (EOF, a closed connection) returns nil.
func readFrames(r io.Reader, onRecv func([]byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [frameHeader]byte
	buf := make([]byte, maxFrame)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return cleanEnd(err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			return fmt.Errorf("frame of %d bytes", n)
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return cleanEnd(err)
		}
		onRecv(buf[:n])
	}
}

// readOneFrame reads a single frame from r and discards it: a dialer's
// server waiting for the first message.
func readOneFrame(r io.Reader) error {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return fmt.Errorf("frame of %d bytes", n)
	}
	_, err := io.CopyN(io.Discard, r, int64(n))
	return err
}

func cleanEnd(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return err
}

// streamWriter frames messages onto a stream, one Write per message.
type streamWriter struct {
	w   io.Writer
	buf []byte
}

func (s *streamWriter) send(msgs [][]byte) error {
	for _, m := range msgs {
		s.buf = appendFrame(s.buf[:0], m)
		if _, err := s.w.Write(s.buf); err != nil {
			return err
		}
	}
	return nil
}

// streamLink is what the links of the stream systems (TCP, kcp-go,
// quic-go) share: framed sends on each side's stream, and a goroutine per
// side that reads frames the other way.
type streamLink struct {
	ws [2]streamWriter
	wg sync.WaitGroup // the readers
}

// run starts framing on the two sides' streams and their readers, which
// stop when their stream ends. Readers hand onRecv every frame but empty
// ones: those only announce a kcp-go session or a quic-go stream, and no
// scenario sends an empty message.
func (l *streamLink) run(streams [2]io.ReadWriter, onRecv func(side int, msg []byte)) {
	for i, s := range streams {
		l.ws[i] = streamWriter{w: s}
		l.wg.Go(func() {
			readFrames(s, func(m []byte) {
				if len(m) > 0 {
					onRecv(i, m)
				}
			})
		})
	}
}

func (l *streamLink) send(side int, msgs [][]byte) error { return l.ws[side].send(msgs) }

func udpAddr(a netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(a) }

// notify sends the time now on ch (capacity 1) unless a value is waiting.
func notify(ch chan time.Time) {
	select {
	case ch <- time.Now():
	default:
	}
}

// drain empties ch of a stale value.
func drain(ch chan time.Time) {
	select {
	case <-ch:
	default:
	}
}

// firstMessages is the listening side that the stream dialers (TCP, kcp-go,
// quic-go) share: see serveFirstMessages.
type firstMessages struct {
	got chan time.Time // capacity 1, for notify
	wg  sync.WaitGroup // the accept loop and a goroutine per connection
}

// serveFirstMessages accepts connections until accept fails, as it does once
// the listener is closed. On each, in a goroutine of its own, read takes the
// first message; if it came whole, the time goes on f.got, and only then
// does release let the connection go, so that no teardown is timed.
func serveFirstMessages[C any](f *firstMessages, accept func() (C, error), read func(C) error, release func(C) error) {
	f.wg.Go(func() {
		for {
			c, err := accept()
			if err != nil {
				return
			}
			f.wg.Go(func() {
				defer release(c)
				if read(c) == nil {
					notify(f.got)
				}
			})
		}
	})
}

// awaitFirst waits for the time a dialer's server reports on got and
// returns how long after start it was.
func awaitFirst(ctx context.Context, got <-chan time.Time, start time.Time) (time.Duration, error) {
	select {
	case at := <-got:
		return at.Sub(start), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("first message: %w", ctx.Err())
	}
}
