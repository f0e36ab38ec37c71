package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/udp"
)

// What may be a peer: the checks --peer and /connect make beyond
// udp.ResolvePeer's, which need this machine's networks and our own
// address.

// checkPeer refuses a peer address p (given as text) that cannot be one
// other udpchat, which the rest of udpchat would otherwise take silently:
//
//   - a multicast or broadcast address, which many or none may hear: a
//     session, its acknowledgements and its trust are with one peer;
//   - this udpchat's own address (listen, as listenAddr makes --listen, or
//     the socket's), or, when it listens on every interface, one of this
//     machine's addresses with its port: it would talk to itself;
//   - an address of the family listen cannot send to (see checkFamily).
//
// local is this machine's networks (localNets).
func checkPeer(text string, p, listen netip.AddrPort, local []netip.Prefix) error {
	if relaypath.IsHandle(p) {
		return nil // someone the relay reaches: no address of ours
	}
	if err := checkFamily(text, p, listen); err != nil {
		return err
	}
	ip := p.Addr()
	if ip.IsMulticast() {
		return fmt.Errorf("peer %s: %s is a multicast address, not a peer; give the address of the one peer to talk to", text, ip)
	}
	if isBroadcast(ip, local) {
		return fmt.Errorf("peer %s: %s is a broadcast address, not a peer; give the address of the one peer to talk to", text, ip)
	}
	if isSelf(p, listen, local) {
		return fmt.Errorf("peer %s is this udpchat itself (--listen %s); give the address of another one, or --listen on another port", text, listen)
	}
	return nil
}

// checkFamily refuses a peer p (given as text) of an IP family a socket on
// listen cannot send to: datagrams to it would fail, or (from a pipe) wait
// in silence for an answer that cannot come. A zero listen (an address
// Listen will refuse anyway) refuses nothing.
func checkFamily(text string, p, listen netip.AddrPort) error {
	if !listen.IsValid() || udp.Reaches(listen, p) {
		return nil
	}
	family, other := "IPv6", "IPv4"
	if p.Addr().Is4() {
		family, other = other, family
	}
	return fmt.Errorf("peer %s is an %s address, and --listen %s reaches %s only; listen on [::]:PORT for both, or on an %s address",
		text, family, listen, other, family)
}

// listenAddr is --listen as an address, unmapped, with the unspecified
// IPv6 address for an empty host (Listen takes ":PORT" for every
// interface, IPv4 and IPv6); ok is false for what Listen will refuse, and
// the zero address then makes no peer look like this udpchat.
func listenAddr(listen string) (addr netip.AddrPort, ok bool) {
	if port, ok := strings.CutPrefix(listen, ":"); ok {
		listen = "[::]:" + port
	}
	a, err := netip.ParseAddrPort(listen)
	if err != nil {
		return a, false
	}
	return udp.Unmap(a), true
}

// isSelf says whether datagrams to p reach a socket bound to listen. A
// socket on an unspecified address gets those to every address of the
// machine, loopback included (an IPv6 one, dual-stack, IPv4 too); port 0
// is a port the system has not picked yet, so no peer can name it.
func isSelf(p, listen netip.AddrPort, local []netip.Prefix) bool {
	if listen.Port() == 0 || p.Port() != listen.Port() {
		return false
	}
	l := listen.Addr()
	if !l.IsUnspecified() {
		return p.Addr() == l
	}
	if l.Is4() && !p.Addr().Is4() {
		return false
	}
	if p.Addr().IsLoopback() {
		return true
	}
	for _, n := range local {
		if n.Addr() == p.Addr() {
			return true
		}
	}
	return false
}

// isBroadcast says whether ip is the IPv4 limited broadcast address or the
// broadcast address of one of the networks in local.
func isBroadcast(ip netip.Addr, local []netip.Prefix) bool {
	if !ip.Is4() {
		return false // IPv6 has no broadcast, only multicast
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, n := range local {
		if !n.Addr().Is4() || n.Bits() > 30 { // /31 and /32 have no broadcast address
			continue
		}
		b := n.Addr().As4()
		host := ^uint32(0) >> n.Bits()
		for i := range b {
			b[i] |= byte(host >> (8 * (3 - i)))
		}
		if ip == netip.AddrFrom4(b) {
			return true
		}
	}
	return false
}

// localNets are the addresses of this machine's interfaces, each with its
// network's prefix length; none if the system will not say, which only
// makes checkPeer less thorough.
func localNets() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var nets []netip.Prefix
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ones, _ := n.Mask.Size()
		ip = ip.Unmap()
		if ip.Is4() && ones > 32 {
			ones -= 96 // a 16-byte mask of an IPv4 address
		}
		nets = append(nets, netip.PrefixFrom(ip, ones))
	}
	return nets
}
