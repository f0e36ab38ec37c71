package main

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// A connWrapper puts a layer between the transport and its socket (the
// secure layer for udpchat-encrypted) and says how large a packet the
// transport may build over it. The zero value means the bare socket.
type connWrapper struct {
	wrap      func(c udp.Conn, side int) (udp.Conn, error)
	maxPacket int
}

// udpchatLink is two transport.Endpoints on real loopback sockets
// (udp.Listen), side 0's socket optionally behind udptest.Impair for loss.
type udpchatLink struct {
	eps      [2]*transport.Endpoint
	addrs    [2]netip.AddrPort
	impaired *udptest.Impaired
	handlers [2]*udpchatHandler
}

// udpchatHandler forwards received messages and wakes a sender waiting for
// queue room.
type udpchatHandler struct {
	side   int
	onRecv func(int, []byte)
	room   chan struct{} // capacity 1: a message was delivered
}

func newUDPChatHandler(side int, onRecv func(int, []byte)) *udpchatHandler {
	return &udpchatHandler{side: side, onRecv: onRecv, room: make(chan struct{}, 1)}
}

func (h *udpchatHandler) Receive(_ netip.AddrPort, msg []byte) error {
	h.onRecv(h.side, msg)
	return nil
}
func (h *udpchatHandler) Delivered(netip.AddrPort, uint64) {
	select {
	case h.room <- struct{}{}:
	default:
	}
}
func (h *udpchatHandler) PeerUp(netip.AddrPort)          {}
func (h *udpchatHandler) PeerClosed(netip.AddrPort)      {}
func (h *udpchatHandler) PeerUnreachable(netip.AddrPort) {}
func (h *udpchatHandler) PeerReachable(netip.AddrPort)   {}
func (h *udpchatHandler) PeerGone(netip.AddrPort)        {}

// newUDPChatEndpoint opens a loopback socket, wraps it (impairment, then the
// layer w) and starts an endpoint on it.
func newUDPChatEndpoint(side int, h *udpchatHandler, w connWrapper, imp *udptest.Impairment) (*transport.Endpoint, *udptest.Impaired, error) {
	s, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	var c udp.Conn = s
	var impaired *udptest.Impaired
	if imp != nil {
		impaired = udptest.Impair(c, *imp)
		c = impaired
	}
	if w.wrap != nil {
		if c, err = w.wrap(c, side); err != nil {
			s.Close()
			return nil, nil, err
		}
	}
	ep, err := transport.New(c, h, transport.Config{MaxPacket: w.maxPacket})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return ep, impaired, nil
}

func newUDPChatLink(w connWrapper) func(context.Context, linkOptions) (link, error) {
	return func(_ context.Context, o linkOptions) (link, error) {
		l := &udpchatLink{}
		for i := range l.eps {
			var imp *udptest.Impairment
			if i == 0 && o.loss > 0 {
				imp = &udptest.Impairment{Loss: o.loss, Seed: o.seed}
			}
			l.handlers[i] = newUDPChatHandler(i, o.onRecv)
			ep, impaired, err := newUDPChatEndpoint(i, l.handlers[i], w, imp)
			if err != nil {
				l.close()
				return nil, err
			}
			l.eps[i], l.addrs[i] = ep, ep.LocalAddr()
			if impaired != nil {
				l.impaired = impaired
			}
		}
		return l, nil
	}
}

func (l *udpchatLink) send(side int, msgs [][]byte) error {
	ep, to := l.eps[side], l.addrs[1-side]
	for _, m := range msgs {
		for {
			_, err := ep.Send(to, m)
			if err == nil {
				break
			}
			if !errors.Is(err, transport.ErrQueueFull) {
				return err
			}
			// Flow control the only way the API offers: wait for a
			// delivery to free queue room.
			select {
			case <-l.handlers[side].room:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func (l *udpchatLink) stats(ctx context.Context) linkStats {
	s := linkStats{}
	for _, ep := range l.eps {
		if ep == nil {
			continue
		}
		s.datagrams += int64(ep.Stats().DatagramsOut)
		ps, err := ep.PeerStats(ctx)
		if err != nil {
			continue
		}
		for _, p := range ps {
			s.retransmits += int64(p.Retransmits)
			s.packetsLost += int64(p.PacketsLost)
		}
	}
	if l.impaired != nil {
		is := l.impaired.Stats()
		s.dgramsSent, s.dgramsDropped = int64(is.Sent+is.Dropped), int64(is.Dropped)
	}
	return s
}

func (l *udpchatLink) close() error {
	var eps []*transport.Endpoint
	for _, ep := range l.eps {
		if ep != nil {
			eps = append(eps, ep)
		}
	}
	closeEndpoints(eps...)
	return nil
}

// udpchatDialer times, for a fresh pair of endpoints, udp.Listen + New +
// Send on the client to Receive on the server. The server endpoint is made
// before the clock starts, as a server would already be listening.
type udpchatDialer struct {
	w connWrapper
}

func (d *udpchatDialer) once(ctx context.Context) (time.Duration, error) {
	got := make(chan time.Time, 1)
	onRecv := func(int, []byte) { notify(got) }
	srv, _, err := newUDPChatEndpoint(1, newUDPChatHandler(1, onRecv), d.w, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	cli, _, err := newUDPChatEndpoint(0, newUDPChatHandler(0, func(int, []byte) {}), d.w, nil)
	if err != nil {
		closeEndpoints(srv)
		return 0, err
	}
	defer closeEndpoints(cli, srv)
	if _, err := cli.Send(srv.LocalAddr(), handshakeMsg); err != nil {
		return 0, err
	}
	return awaitFirst(ctx, got, start)
}

func (d *udpchatDialer) close() error { return nil }

func closeEndpoints(eps ...*transport.Endpoint) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Go(func() { ep.Close(ctx) })
	}
	wg.Wait()
}

func newUDPChatDialer(w connWrapper) func(context.Context) (dialer, error) {
	return func(context.Context) (dialer, error) { return &udpchatDialer{w: w}, nil }
}
