package udp

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize is room for the control messages a read brings and a write sends:
// an IP_PKTINFO and an IPV6_PKTINFO (a dual-stack socket reading IPv4 gets
// both), each aligned, with margin.
const oobSize = 128

// oob is a control message buffer aligned for unix.Cmsghdr, so that its
// headers can be read and written in place.
type oob struct {
	_ [0]uint64
	b [oobSize]byte
}

// enableSources asks the system to report the destination of every datagram
// read on c, and returns a table to remember them in; nil if it will not.
// v6 says c is an IPv6 socket, which (dual-stack) reads IPv4 too.
func enableSources(c *net.UDPConn, v6 bool) *srcTable {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		// IP_PKTINFO on an IPv6 socket reports the IPv4 datagrams it reads.
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if v6 {
			serr = errors.Join(serr, unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1))
		}
	})
	if err != nil || serr != nil {
		return nil
	}
	return newSrcTable()
}

// parseSource finds in b, the control messages of one datagram, the local
// address it was sent to. For IPv4 that is the address the system itself
// would answer from had the datagram come to it alone (ipi_spec_dst: for a
// broadcast, the interface's address); an IPv6 multicast destination is
// not a source, and ok is false.
func parseSource(b []byte) (src localSource, ok bool) {
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		end := int(h.Len)
		if end < unix.CmsgLen(0) || end > len(b) {
			return src, ok
		}
		data := b[unix.CmsgLen(0):end]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			src, ok = localSource{addr: netip.AddrFrom4(info.Spec_dst)}, true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			// An IPv4 datagram on a dual-stack socket: the IP_PKTINFO after
			// this one, if any, says it better.
			a := netip.AddrFrom16(info.Addr).Unmap()
			if a.IsMulticast() {
				return localSource{}, false
			}
			src, ok = localSource{addr: a}, true
			if a.IsLinkLocalUnicast() {
				src.ifindex = info.Ifindex
			}
		}
		b = b[min(unix.CmsgSpace(end-unix.CmsgLen(0)), len(b)):]
	}
	return src, ok
}

// put writes the control message that sends from src into o, and returns
// it. An IPv4 source is IP_PKTINFO, which an IPv6 socket takes for an IPv4
// destination too.
func (o *oob) put(src localSource) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&o.b[0]))
	data := o.b[unix.CmsgLen(0):]
	if src.addr.Is4() {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		*(*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])) = unix.Inet4Pktinfo{Spec_dst: src.addr.As4()}
		return o.b[:unix.CmsgSpace(unix.SizeofInet4Pktinfo)]
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	*(*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0])) = unix.Inet6Pktinfo{Addr: src.addr.As16(), Ifindex: src.ifindex}
	return o.b[:unix.CmsgSpace(unix.SizeofInet6Pktinfo)]
}

// sourceGone says a write that named its source may have failed because of
// it: the address is no longer this machine's (EINVAL, or ENETUNREACH when
// no route has it), or cannot be used now. A write that fails so is tried
// again without a source, which, if the source was not the cause, fails
// the same way.
func sourceGone(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ENETUNREACH)
}

// readMsg reads one datagram and, where the socket reports them, learns the
// address it was sent to.
func (s *Socket) readMsg(b []byte) (int, netip.AddrPort, error) {
	var o oob
	n, oobn, _, from, err := s.conn.ReadMsgUDPAddrPort(b, o.b[:])
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	from = Unmap(from)
	if src, ok := parseSource(o.b[:oobn]); ok {
		s.srcs.learn(from, src)
	}
	return n, from, nil
}

// writeMsg sends b to addr from the address addr last wrote to, if known;
// if that address is gone, it forgets it and lets the system pick.
func (s *Socket) writeMsg(b []byte, addr netip.AddrPort) (int, error) {
	src, ok := s.srcs.lookup(addr)
	if !ok {
		return s.conn.WriteToUDPAddrPort(b, addr)
	}
	var o oob
	n, _, err := s.conn.WriteMsgUDPAddrPort(b, o.put(src), addr)
	if err != nil && sourceGone(err) {
		s.srcs.forget(addr)
		return s.conn.WriteToUDPAddrPort(b, addr)
	}
	return n, err
}
