package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/net/ipv6"

	"github.com/udpchat/udpchat/internal/wire"
)

// sockets is the real network. Every udpchat process on a host binds the
// beacon port, shared (SO_REUSEADDR and SO_REUSEPORT), so that they all hear
// every broadcast; but a unicast datagram to a shared port reaches one of
// them at random, so each sends from a port of its own, where the answers to
// its announcements come back. Each family has that pair; IPv6 is optional.
type sockets struct {
	log  *slog.Logger
	port uint16

	shared4, own4 *net.UDPConn
	shared6, own6 *net.UDPConn // nil where the system has no IPv6

	mu     sync.Mutex // guards the fields below
	bcast4 []netip.Addr
	mcast6 []string     // interfaces the group is joined on, by name
	joined map[int]bool // by index, so that a join is tried once

	wg sync.WaitGroup
}

// listen opens the sockets for cfg and reads the interfaces.
func listen(cfg Config) (*sockets, error) {
	s := &sockets{log: cfg.Logger, port: cfg.Port, joined: make(map[int]bool)}
	lc := net.ListenConfig{Control: shareAddr}
	ctx := context.Background()
	c, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("discovery: listening on UDP port %d: %w (another program may hold it without sharing it)", cfg.Port, err)
	}
	s.shared4 = c.(*net.UDPConn)
	if s.own4, err = net.ListenUDP("udp4", &net.UDPAddr{}); err != nil {
		s.close()
		return nil, fmt.Errorf("discovery: opening a socket: %w", err)
	}
	if err := s.listen6(lc, cfg.Port); err != nil {
		s.log.Info("discovery: IPv4 only", "err", err)
	}
	s.refresh()
	return s, nil
}

// listen6 opens the IPv6 pair. The multicast hop limit is 1: a beacon is for
// the link it is sent on.
func (s *sockets) listen6(lc net.ListenConfig, port uint16) error {
	c, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", port))
	if err != nil {
		return err
	}
	own, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		c.Close()
		return err
	}
	p := ipv6.NewPacketConn(own)
	if err := errors.Join(p.SetMulticastHopLimit(1), p.SetMulticastLoopback(true)); err != nil {
		c.Close()
		own.Close()
		return err
	}
	s.shared6, s.own6 = c.(*net.UDPConn), own
	return nil
}

func (s *sockets) conns() []*net.UDPConn {
	var cs []*net.UDPConn
	for _, c := range []*net.UDPConn{s.shared4, s.own4, s.shared6, s.own6} {
		if c != nil {
			cs = append(cs, c)
		}
	}
	return cs
}

func (s *sockets) serve(deliver func(b []byte, from netip.AddrPort)) {
	for _, c := range s.conns() {
		s.wg.Go(func() {
			buf := make([]byte, wire.MaxDatagram+1) // one more, to see what is too big
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err == nil {
					deliver(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
				}
			}
		})
	}
}

// refresh reads the interfaces: each up one's IPv4 broadcast addresses, and
// for IPv6, each up multicast one but loopback, where the group is joined.
func (s *sockets) refresh() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		s.log.Debug("discovery: listing interfaces", "err", err)
		return false
	}
	var bcast []netip.Addr
	var mcast []string
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ifi.Flags&net.FlagBroadcast != 0 {
			bcast = append(bcast, broadcastAddrs(&ifi)...)
		}
		if s.shared6 != nil && ifi.Flags&net.FlagMulticast != 0 && s.join(&ifi) {
			mcast = append(mcast, ifi.Name)
		}
	}
	slices.SortFunc(bcast, netip.Addr.Compare)
	bcast = slices.Compact(bcast)
	changed := false
	for _, a := range bcast {
		changed = changed || !slices.Contains(s.bcast4, a)
	}
	for _, n := range mcast {
		changed = changed || !slices.Contains(s.mcast6, n)
	}
	s.bcast4, s.mcast6 = bcast, mcast
	return changed
}

// join joins the group on ifi, once; it reports whether it is joined.
func (s *sockets) join(ifi *net.Interface) bool {
	if joined, tried := s.joined[ifi.Index]; tried {
		return joined
	}
	err := ipv6.NewPacketConn(s.shared6).JoinGroup(ifi, &net.UDPAddr{IP: MulticastGroup.AsSlice()})
	if err != nil {
		s.log.Debug("discovery: joining the IPv6 group", "interface", ifi.Name, "err", err)
	}
	s.joined[ifi.Index] = err == nil
	return err == nil
}

// broadcastAddrs lists the directed broadcast address of each IPv4 network
// on ifi (none for a /31 or /32, which have no broadcast).
func broadcastAddrs(ifi *net.Interface) []netip.Addr {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil {
			continue
		}
		ip4 := n.IP.To4()
		ones, bits := n.Mask.Size()
		if bits != 32 || ones > 30 {
			continue
		}
		b := [4]byte(ip4)
		for i := range b {
			b[i] |= ^n.Mask[len(n.Mask)-4+i]
		}
		out = append(out, netip.AddrFrom4(b))
	}
	return out
}

func (s *sockets) broadcast(b []byte) error {
	s.mu.Lock()
	bcast, mcast := s.bcast4, s.mcast6
	s.mu.Unlock()
	var errs []error
	for _, a := range bcast {
		_, err := s.own4.WriteToUDPAddrPort(b, netip.AddrPortFrom(a, s.port))
		errs = append(errs, err)
	}
	for _, ifname := range mcast {
		// The zone picks the interface the datagram leaves by.
		_, err := s.own6.WriteToUDPAddrPort(b, netip.AddrPortFrom(MulticastGroup.WithZone(ifname), s.port))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *sockets) unicast(b []byte, to netip.AddrPort) error {
	c := s.own4
	if !to.Addr().Is4() {
		c = s.own6
	}
	if c == nil {
		return fmt.Errorf("discovery: no IPv6 socket to answer %s", to)
	}
	_, err := c.WriteToUDPAddrPort(b, to)
	return err
}

func (s *sockets) close() error {
	var errs []error
	for _, c := range s.conns() {
		errs = append(errs, c.Close())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
