package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// kcpWindow is the send and receive window, in segments. kcp-go acks on its
// 10 ms update tick, so a session moves at most a window per tick: 4096
// allows ~400k segments/s, above what it reaches here; 128 (its usual
// setting) would cap it near 13k.
const kcpWindow = 4096

// tuneKCP applies the settings every kcp-go benchmark quotes: NoDelay(1, 10,
// 2, 1) (nodelay, 10 ms interval, fast resend after 2 skips, no congestion
// control) and a large window.
func tuneKCP(s *kcp.UDPSession) {
	s.SetNoDelay(1, 10, 2, 1)
	s.SetWindowSize(kcpWindow, kcpWindow)
	s.SetStreamMode(false)
	s.SetWriteDelay(false)
}

// kcpLink is one kcp-go session (no encryption, no FEC), messages
// length-prefixed. The client's socket is a bare *net.UDPConn (kcp-go then
// uses sendmmsg/recvmmsg) unless loss is asked for, when it is behind
// lossyPacketConn.
type kcpLink struct {
	udps    [2]*net.UDPConn
	ln      *kcp.Listener
	sess    [2]*kcp.UDPSession
	dropper *lossDropper
	retrans uint64 // kcp.DefaultSnmp.RetransSegs when the link was made
	lost    uint64 // kcp.DefaultSnmp.LostSegs (segments resent on timeout) then
	streamLink
}

func newKCPLink(ctx context.Context, o linkOptions) (_ link, err error) {
	l := &kcpLink{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	for i := range l.udps {
		if l.udps[i], err = listenUDP(); err != nil {
			return nil, err
		}
	}
	if l.ln, err = kcp.ServeConn(nil, 0, 0, l.udps[1]); err != nil {
		return nil, err
	}
	var cpc net.PacketConn = l.udps[0]
	if o.loss > 0 {
		l.dropper = newLossDropper(o.loss, o.seed)
		cpc = &lossyPacketConn{PacketConn: l.udps[0], d: l.dropper}
	}
	if l.sess[0], err = kcp.NewConn3(rand.Uint32(), l.udps[1].LocalAddr(), nil, 0, 0, cpc); err != nil {
		return nil, err
	}
	tuneKCP(l.sess[0])
	// The server learns of the session from its first segment: an empty frame.
	if _, err = l.sess[0].Write(appendFrame(nil, nil)); err != nil {
		return nil, err
	}
	l.ln.SetDeadline(time.Now().Add(10 * time.Second))
	if l.sess[1], err = l.ln.AcceptKCP(); err != nil {
		return nil, fmt.Errorf("kcp accept: %w", err)
	}
	tuneKCP(l.sess[1])
	l.retrans = atomic.LoadUint64(&kcp.DefaultSnmp.RetransSegs)
	l.lost = atomic.LoadUint64(&kcp.DefaultSnmp.LostSegs)
	l.run([2]io.ReadWriter{l.sess[0], l.sess[1]}, o.onRecv)
	return l, nil
}

func (l *kcpLink) stats(context.Context) linkStats {
	s := linkStats{
		retransmits: int64(atomic.LoadUint64(&kcp.DefaultSnmp.RetransSegs) - l.retrans),
		packetsLost: int64(atomic.LoadUint64(&kcp.DefaultSnmp.LostSegs) - l.lost),
	}
	if l.dropper != nil {
		s.dgramsSent, s.dgramsDropped = l.dropper.sent.Load()+l.dropper.dropped.Load(), l.dropper.dropped.Load()
	}
	return s
}

func (l *kcpLink) close() error {
	for _, s := range l.sess {
		if s != nil {
			s.Close()
		}
	}
	if l.ln != nil {
		l.ln.Close()
	}
	for _, u := range l.udps {
		if u != nil {
			u.Close()
		}
	}
	l.wg.Wait()
	return nil
}

// kcpDialer times, from a fresh client socket, the first message delivered
// to a listener that stays up (kcp has no handshake: the first segment makes
// the session).
type kcpDialer struct {
	udp *net.UDPConn
	ln  *kcp.Listener
	firstMessages
}

func newKCPDialer(context.Context) (_ dialer, err error) {
	d := &kcpDialer{firstMessages: firstMessages{got: make(chan time.Time, 1)}}
	if d.udp, err = listenUDP(); err != nil {
		return nil, err
	}
	if d.ln, err = kcp.ServeConn(nil, 0, 0, d.udp); err != nil {
		d.udp.Close()
		return nil, err
	}
	serveFirstMessages(&d.firstMessages,
		func() (*kcp.UDPSession, error) {
			s, err := d.ln.AcceptKCP()
			if err == nil {
				tuneKCP(s)
			}
			return s, err
		},
		func(s *kcp.UDPSession) error {
			s.SetReadDeadline(time.Now().Add(5 * time.Second))
			return readOneFrame(s)
		},
		(*kcp.UDPSession).Close)
	return d, nil
}

func (d *kcpDialer) once(ctx context.Context) (time.Duration, error) {
	drain(d.got)
	start := time.Now()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer u.Close()
	s, err := kcp.NewConn3(rand.Uint32(), d.udp.LocalAddr(), nil, 0, 0, u)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	tuneKCP(s)
	if _, err := s.Write(appendFrame(nil, handshakeMsg)); err != nil {
		return 0, err
	}
	return awaitFirst(ctx, d.got, start)
}

func (d *kcpDialer) close() error {
	d.ln.Close()
	d.udp.Close()
	d.wg.Wait()
	return nil
}
