package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
)

// Errors Listen and ResolvePeer wrap, so that callers (the CLI above all) can
// tell a user what to change without parsing messages. The returned errors
// also match the underlying system error with errors.Is where there is one.
var (
	// ErrAddrInUse means the port is taken; the fix is another port.
	ErrAddrInUse = errors.New("address already in use: another program (maybe another udpchat) is bound to it; pick another port with --listen")

	// ErrBadAddress means the text is not a usable IP:PORT; the fix is to
	// retype it.
	ErrBadAddress = errors.New("bad address")

	// ErrCannotBind means the address is well formed but this machine will
	// not bind it: typically an IP it does not have, or a privileged port.
	ErrCannotBind = errors.New("cannot bind")

	// ErrUnresolvable means a peer's hostname did not resolve; the fix is the
	// name, the network or DNS, not the syntax.
	ErrUnresolvable = errors.New("cannot resolve host")
)

// SocketBufferSize is what Listen asks the kernel for, for both the receive
// and the send buffer: enough for a burst of a few thousand full-size
// datagrams (a 256 KiB message arriving while the reader is busy), so they
// queue instead of being dropped. The kernel may grant less (on Linux,
// net.core.rmem_max and wmem_max cap it); Listen does not fail over that.
const SocketBufferSize = 4 << 20

// Socket is a Conn on a real UDP socket. It adds nothing per datagram to
// *net.UDPConn except unmapping source addresses and, on a wildcard address,
// choosing the source of each answer (see srcTable), so reads and writes do
// not allocate.
type Socket struct {
	conn  *net.UDPConn
	local netip.AddrPort
	batch *batcher // ReadBatch and WriteBatch, where the system has them
	// srcs is the address each peer wrote to, on a socket bound to a
	// wildcard address where the system reports it; nil otherwise.
	srcs *srcTable
}

var _ Conn = (*Socket)(nil)

// Listen opens a UDP socket on addr, "IP:PORT" or "[IPv6]:PORT", and port 0
// lets the system pick one. An empty host (":PORT") or "::" means every
// interface, IPv4 and IPv6 (IPv4 peers as IPv4-mapped addresses, which
// ReadFrom unmaps), or IPv4 alone where the system has no IPv6; 0.0.0.0
// means every IPv4 interface. The host must be an IP literal: a listening
// address names an interface of this machine, and resolving names here
// would hide mistakes. See Reaches for which peers a socket can talk to.
//
// Errors are one line a user can act on, prefixed with "listen ADDR: ", and
// match ErrBadAddress, ErrAddrInUse or ErrCannotBind.
func Listen(addr string) (*Socket, error) {
	ap, err := parseListenAddr(addr)
	if err != nil {
		return nil, err
	}
	network := "udp" // dual-stack, or IPv4 where the system has no IPv6
	switch ip := ap.Addr(); {
	case ip.Is6() && ip.IsUnspecified():
		// Not "udp6", which would make the socket IPv6 only: the zero
		// address asks the system for the same as ":PORT".
		ap = netip.AddrPortFrom(netip.Addr{}, ap.Port())
	case ip.Is4():
		network = "udp4"
	case ip.Is6():
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, listenError(addr, ap, err)
	}
	setBuffers(conn)
	setDontFragment(conn)
	bound := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	s := &Socket{conn: conn, local: Unmap(bound)}
	if bound.Addr().IsUnspecified() {
		s.srcs = enableSources(conn, bound.Addr().Is6())
	}
	s.initBatch(bound)
	return s, nil
}

// Reaches reports whether a socket bound to local can send to peer: one
// bound to an IPv4 address reaches IPv4 peers only, one bound to a given
// IPv6 address IPv6 peers only, and one on every interface of both
// families (local "[::]", as LocalAddr reports a dual-stack socket) both.
func Reaches(local, peer netip.AddrPort) bool {
	l, p := local.Addr().Unmap(), peer.Addr().Unmap()
	switch {
	case l.Is4():
		return p.Is4()
	case l.IsUnspecified():
		return true
	}
	return p.Is6()
}

// ReadFrom reads one datagram into b and returns its source, unmapped. As with
// any UDP socket, the part of a datagram that does not fit in b is lost, so b
// should be as large as the largest datagram expected. After Close it returns
// an error wrapping net.ErrClosed.
func (s *Socket) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	if n, from, ok, err := s.readCoalesced(b); ok {
		return n, from, err
	}
	if s.srcs != nil {
		return s.readMsg(b)
	}
	n, from, err := s.conn.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; Conn promises
	// the plain form so that one peer has one map key.
	return n, Unmap(from), nil
}

// WriteTo sends b as one datagram to addr, from the address addr last wrote
// to (see srcTable). An IPv4 addr works on a socket listening on all
// interfaces; an IPv6 addr on an IPv4 socket is an error.
func (s *Socket) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	if s.srcs != nil {
		return s.writeMsg(b, addr)
	}
	return s.conn.WriteToUDPAddrPort(b, addr)
}

// LocalAddr is the address the socket is bound to, with the port the system
// picked if Listen was given port 0 (how tests and `udpchat send` find it).
// A socket on every interface of both families reports [::].
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// Close closes the socket and unblocks a pending ReadFrom. Closing twice
// returns an error wrapping net.ErrClosed.
func (s *Socket) Close() error {
	err := s.conn.Close()
	s.batch.release()
	return err
}

// ResolvePeer turns a peer address, "HOST:PORT", into the address datagrams
// are sent to. HOST is an IP literal or a hostname; a hostname with both IPv4
// and IPv6 addresses resolves to IPv4, which a socket listening on 0.0.0.0
// (the default) can reach. The port is required and cannot be 0. The result
// is unmapped, so it equals the source address ReadFrom reports for that peer.
//
// Errors match ErrBadAddress or ErrUnresolvable; if ctx ends first, the error
// wraps ctx.Err() instead of ErrUnresolvable.
func ResolvePeer(ctx context.Context, addr string) (netip.AddrPort, error) {
	host, port, err := splitHostPort("peer", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if port == 0 {
		return netip.AddrPort{}, badAddress("peer", addr, "port 0 is not a destination; give the port the peer listens on")
	}
	if host == "" {
		return netip.AddrPort{}, badAddress("peer", addr, "missing host; e.g. 192.0.2.7:7475 or chat.example.org:7475")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			return netip.AddrPort{}, badAddress("peer", addr, ip.String()+" means \"any address\", not a peer; give the peer's IP")
		}
		return netip.AddrPortFrom(ip.Unmap(), port), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return netip.AddrPort{}, fmt.Errorf("resolve host %q: %w", host, ctx.Err())
		}
		reason := err.Error()
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			reason = dnsErr.Err // the rest repeats the host
		}
		return netip.AddrPort{}, &addrError{
			msg:  fmt.Sprintf("%s %q: %s", ErrUnresolvable, host, reason),
			errs: []error{ErrUnresolvable, err},
		}
	}
	var v6 netip.Addr
	for _, ip := range ips {
		// The resolver returns IPv4 results in 16-byte form: unmap before
		// asking which family they are.
		ip = ip.Unmap()
		if ip.Is4() {
			return netip.AddrPortFrom(ip, port), nil
		}
		if !v6.IsValid() {
			v6 = ip
		}
	}
	if !v6.IsValid() {
		return netip.AddrPort{}, &addrError{
			msg:  fmt.Sprintf("%s %q: no addresses", ErrUnresolvable, host),
			errs: []error{ErrUnresolvable},
		}
	}
	return netip.AddrPortFrom(v6, port), nil
}

// addrError is a finished one-line message that matches a sentinel and the
// error behind it with errors.Is, without repeating the latter's text (the
// system's "bind: address already in use" only says less well what the
// sentinel says).
type addrError struct {
	msg  string
	errs []error
}

func (e *addrError) Error() string   { return e.msg }
func (e *addrError) Unwrap() []error { return e.errs }

func badAddress(op, addr, why string) error {
	return &addrError{
		msg:  fmt.Sprintf("%s %s: %s: %s", op, addr, ErrBadAddress, why),
		errs: []error{ErrBadAddress},
	}
}

// parseListenAddr accepts "IP:PORT", "[IPv6]:PORT" and ":PORT"; an empty
// host yields the zero netip.Addr, which Listen turns into all interfaces.
func parseListenAddr(addr string) (netip.AddrPort, error) {
	host, port, err := splitHostPort("listen", addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		return netip.AddrPortFrom(netip.Addr{}, port), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, badAddress("listen", addr, fmt.Sprintf("host %q is not an IP address; use one of this machine's IPs, e.g. 127.0.0.1 or 0.0.0.0 for all", host))
	}
	// An IPv4-mapped literal binds the IPv4 address, as the user meant.
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

// splitHostPort splits addr and parses the port as a decimal number in
// 0..65535; service names ("http") are refused, as nothing here is one.
func splitHostPort(op, addr string) (host string, port uint16, err error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		why := "not IP:PORT; e.g. 127.0.0.1:7475 or [::1]:7475"
		var ae *net.AddrError
		if errors.As(err, &ae) && ae.Err == "too many colons in address" {
			why = "an IPv6 address needs brackets, e.g. [::1]:7475"
		}
		return "", 0, badAddress(op, addr, why)
	}
	if ps == "" {
		return "", 0, badAddress(op, addr, "missing port after the colon")
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		why := fmt.Sprintf("port %q is not a number from 0 to 65535", ps)
		if errors.Is(err, strconv.ErrRange) {
			why = fmt.Sprintf("port %s is out of range 0 to 65535", ps)
		}
		return "", 0, badAddress(op, addr, why)
	}
	return host, uint16(p), nil
}

// listenError turns what net.ListenUDP returned into one of the sentinels,
// with a hint for the common causes.
func listenError(addr string, ap netip.AddrPort, err error) error {
	var why string
	var kind error = ErrCannotBind
	switch {
	case isAny(err, errnoAddrInUse):
		kind = ErrAddrInUse // its text says it all
	case isAny(err, errnoAddrNotAvail):
		why = fmt.Sprintf("%s is not an address of this machine; use one it has, or 0.0.0.0 for all", ap.Addr())
	case isAny(err, errnoAccess):
		why = "permission denied; ports below 1024 usually need privileges, pick a higher one with --listen"
	case isAny(err, errnoNoFamily):
		why = "this machine does not support that address family (is IPv6 disabled?)"
	default:
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "bind" {
			// Not about the address (say, out of file descriptors): report
			// it as the system did.
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		why = se.Err.Error()
	}
	msg := fmt.Sprintf("listen %s: %s", addr, kind)
	if why != "" {
		msg += ": " + why
	}
	return &addrError{msg: msg, errs: []error{kind, err}}
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
