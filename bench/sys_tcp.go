package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// tcpLink is one loopback TCP connection with TCP_NODELAY (Go's default,
// set explicitly), messages length-prefixed, one write per message.
type tcpLink struct {
	conns [2]*net.TCPConn
	streamLink
}

func newTCPLink(ctx context.Context, o linkOptions) (link, error) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var d net.Dialer
	cc, err := d.DialContext(ctx, "tcp4", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	sc, ok := <-accepted
	if !ok {
		cc.Close()
		return nil, fmt.Errorf("tcp: accept failed")
	}
	l := &tcpLink{conns: [2]*net.TCPConn{cc.(*net.TCPConn), sc}}
	for _, c := range l.conns {
		c.SetNoDelay(true)
		c.SetReadBuffer(socketBuffer)
		c.SetWriteBuffer(socketBuffer)
	}
	l.run([2]io.ReadWriter{l.conns[0], l.conns[1]}, o.onRecv)
	return l, nil
}

func (l *tcpLink) stats(context.Context) linkStats {
	return linkStats{retransmits: -1, packetsLost: -1}
}

func (l *tcpLink) close() error {
	for _, c := range l.conns {
		c.Close()
	}
	l.wg.Wait()
	return nil
}

// tcpDialer times connect plus the first message, to a listener that stays
// up.
type tcpDialer struct {
	ln *net.TCPListener
	firstMessages
}

func newTCPDialer(context.Context) (dialer, error) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	d := &tcpDialer{ln: ln, firstMessages: firstMessages{got: make(chan time.Time, 1)}}
	serveFirstMessages(&d.firstMessages, ln.Accept,
		func(c net.Conn) error {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			return readOneFrame(c)
		},
		net.Conn.Close)
	return d, nil
}

func (d *tcpDialer) once(ctx context.Context) (time.Duration, error) {
	drain(d.got)
	start := time.Now()
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp4", d.ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	if _, err := c.Write(appendFrame(nil, handshakeMsg)); err != nil {
		return 0, err
	}
	return awaitFirst(ctx, d.got, start)
}

func (d *tcpDialer) close() error {
	d.ln.Close()
	d.wg.Wait()
	return nil
}
