package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

const quicALPN = "udpchat-bench"

var (
	certOnce sync.Once
	certTLS  tls.Certificate
	certErr  error
)

// serverTLS is a self-signed certificate made in memory, once.
func serverTLS() (*tls.Config, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		certTLS = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if certErr != nil {
		return nil, certErr
	}
	return &tls.Config{Certificates: []tls.Certificate{certTLS}, NextProtos: []string{quicALPN}}, nil
}

func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{quicALPN}}
}

func quicConfig() *quic.Config {
	return &quic.Config{MaxIdleTimeout: 30 * time.Second, HandshakeIdleTimeout: 5 * time.Second}
}

// quicLink is one quic-go connection carrying one bidirectional stream,
// messages length-prefixed. The client's socket is a bare *net.UDPConn
// (so quic-go uses GSO and batched reads where it can) unless loss is
// asked for, when it is behind lossyPacketConn.
type quicLink struct {
	udps    [2]*net.UDPConn
	trs     [2]*quic.Transport
	conns   [2]*quic.Conn
	streams [2]*quic.Stream
	dropper *lossDropper
	streamLink
}

func newQUICLink(ctx context.Context, o linkOptions) (_ link, err error) {
	l := &quicLink{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	stls, err := serverTLS()
	if err != nil {
		return nil, err
	}
	for i := range l.udps {
		if l.udps[i], err = listenUDP(); err != nil {
			return nil, err
		}
	}
	var cpc net.PacketConn = l.udps[0]
	if o.loss > 0 {
		cpc = &lossyPacketConn{PacketConn: l.udps[0], d: newLossDropper(o.loss, o.seed)}
	}
	l.trs[0] = &quic.Transport{Conn: cpc}
	l.trs[1] = &quic.Transport{Conn: l.udps[1]}
	ln, err := l.trs[1].Listen(stls, quicConfig())
	if err != nil {
		return nil, err
	}
	defer ln.Close() // the accepted connection outlives its listener
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if l.conns[0], err = l.trs[0].Dial(ctx, l.udps[1].LocalAddr(), clientTLS(), quicConfig()); err != nil {
		return nil, err
	}
	if l.conns[1], err = ln.Accept(ctx); err != nil {
		return nil, err
	}
	if l.streams[0], err = l.conns[0].OpenStream(); err != nil {
		return nil, err
	}
	// A stream is announced to the peer by its first bytes: an empty frame.
	if _, err = l.streams[0].Write(appendFrame(nil, nil)); err != nil {
		return nil, err
	}
	if l.streams[1], err = l.conns[1].AcceptStream(ctx); err != nil {
		return nil, err
	}
	l.run([2]io.ReadWriter{l.streams[0], l.streams[1]}, o.onRecv)
	if lc, ok := cpc.(*lossyPacketConn); ok {
		l.dropper = lc.d
	}
	return l, nil
}

func (l *quicLink) stats(context.Context) linkStats {
	s := linkStats{retransmits: -1, packetsLost: -1}
	if l.dropper != nil {
		s.dgramsSent, s.dgramsDropped = l.dropper.sent.Load()+l.dropper.dropped.Load(), l.dropper.dropped.Load()
	}
	return s
}

func (l *quicLink) close() error {
	for _, c := range l.conns {
		if c != nil {
			c.CloseWithError(0, "")
		}
	}
	for _, t := range l.trs {
		if t != nil {
			t.Close()
		}
	}
	for _, u := range l.udps {
		if u != nil {
			u.Close()
		}
	}
	l.wg.Wait()
	return nil
}

// quicDialer times, from a fresh client socket: dial (the handshake), open
// a stream and the first message delivered, to a listener that stays up.
type quicDialer struct {
	udp *net.UDPConn
	tr  *quic.Transport
	ln  *quic.Listener
	firstMessages
}

func newQUICDialer(context.Context) (_ dialer, err error) {
	stls, err := serverTLS()
	if err != nil {
		return nil, err
	}
	d := &quicDialer{firstMessages: firstMessages{got: make(chan time.Time, 1)}}
	if d.udp, err = listenUDP(); err != nil {
		return nil, err
	}
	d.tr = &quic.Transport{Conn: d.udp}
	if d.ln, err = d.tr.Listen(stls, quicConfig()); err != nil {
		d.close()
		return nil, err
	}
	serveFirstMessages(&d.firstMessages,
		func() (*quic.Conn, error) { return d.ln.Accept(context.Background()) },
		func(c *quic.Conn) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := c.AcceptStream(ctx)
			if err != nil {
				return err
			}
			return readOneFrame(s)
		},
		func(c *quic.Conn) error { return c.CloseWithError(0, "") })
	return d, nil
}

func (d *quicDialer) once(ctx context.Context) (time.Duration, error) {
	drain(d.got)
	start := time.Now()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	tr := &quic.Transport{Conn: u}
	defer u.Close()
	defer tr.Close()
	c, err := tr.Dial(ctx, d.udp.LocalAddr(), clientTLS(), quicConfig())
	if err != nil {
		return 0, err
	}
	defer c.CloseWithError(0, "")
	s, err := c.OpenStream()
	if err != nil {
		return 0, err
	}
	if _, err := s.Write(appendFrame(nil, handshakeMsg)); err != nil {
		return 0, err
	}
	return awaitFirst(ctx, d.got, start)
}

func (d *quicDialer) close() error {
	if d.ln != nil {
		d.ln.Close()
	}
	if d.tr != nil {
		d.tr.Close()
	}
	d.udp.Close()
	d.wg.Wait()
	return nil
}
