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

// control is what readControl found in one datagram's control messages.
type control struct {
	source    localSource
	hasSource bool
	segment   int // UDP_GRO: the size of the datagrams joined; 0 if none
}

// readControl reads the control messages of one datagram (or of datagrams
// GRO joined): the local address it was sent to, and the size GRO cut it
// by. For IPv4 the address is the one the system itself would answer from
// had the datagram come to it alone (ipi_spec_dst: for a broadcast, the
// interface's address); an IPv6 multicast destination is not a source.
func readControl(b []byte) control {
	var c control
	multicast := false // then no source, whatever follows
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		end := int(h.Len)
		if end < unix.CmsgLen(0) || end > len(b) {
			return c
		}
		data := b[unix.CmsgLen(0):end]
		switch {
		case multicast && (h.Level == unix.IPPROTO_IP || h.Level == unix.IPPROTO_IPV6):
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			c.source, c.hasSource = localSource{addr: netip.AddrFrom4(info.Spec_dst)}, true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			// An IPv4 datagram on a dual-stack socket: the IP_PKTINFO after
			// this one, if any, says it better.
			a := netip.AddrFrom16(info.Addr).Unmap()
			if a.IsMulticast() {
				c.source, c.hasSource, multicast = localSource{}, false, true
				break
			}
			c.source, c.hasSource = localSource{addr: a}, true
			if a.IsLinkLocalUnicast() {
				c.source.ifindex = info.Ifindex
			}
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			c.segment = int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		b = b[min(unix.CmsgSpace(end-unix.CmsgLen(0)), len(b)):]
	}
	return c
}

// put writes the control message that sends from src into o at off (after
// another control message, if not 0), and returns o up to its end. An IPv4 source is IP_PKTINFO, which an IPv6 socket takes for an IPv4
// destination too.
func (o *oob) put(off int, src localSource) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&o.b[off]))
	data := o.b[off+unix.CmsgLen(0):]
	if src.addr.Is4() {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		*(*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])) = unix.Inet4Pktinfo{Spec_dst: src.addr.As4()}
		return o.b[:off+unix.CmsgSpace(unix.SizeofInet4Pktinfo)]
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	*(*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0])) = unix.Inet6Pktinfo{Addr: src.addr.As16(), Ifindex: src.ifindex}
	return o.b[:off+unix.CmsgSpace(unix.SizeofInet6Pktinfo)]
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
	if c := readControl(o.b[:oobn]); c.hasSource {
		s.srcs.learn(from, c.source)
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
	n, _, err := s.conn.WriteMsgUDPAddrPort(b, o.put(0, src), addr)
	if err != nil && sourceGone(err) {
		s.srcs.forget(addr)
		return s.conn.WriteToUDPAddrPort(b, addr)
	}
	return n, err
}
