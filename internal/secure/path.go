package secure

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/udp"
)

// Paths: what a layer that knows of more than one way to a peer (a relay
// that forwards by key, and the direct addresses hole punching tries) needs
// of the Conn. A peer keeps its handle whichever way its datagrams go; its
// endpoint is the way in use, and roaming (docs/PROTOCOL.md S5.4) moves it
// to wherever the newest authentic datagram came from, so a probe that gets
// through a NAT moves both sides to the direct path by itself.

// Probe sends peer (a handle) an empty packet sealed in its current session
// to the address to, leaving its endpoint as it is: a hole-punching probe.
// The peer takes it as a keepalive, which the layer above never sees, and
// if it is the newest datagram of its session, moves its endpoint for us to
// where it came from. Without a session it sends nothing and says so.
func (c *Conn) Probe(peer, to netip.AddrPort) error {
	p := c.peerFor(udp.Unmap(peer), false)
	if p == nil {
		return fmt.Errorf("secure: probe for %s: no such peer", peer)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	kp := c.usableCurrent(p, time.Now())
	if p.removed || kp == nil {
		return fmt.Errorf("secure: probe for %s: no session yet", peer)
	}
	c.count.packetsOut.Add(1)
	return c.write(kp.seal(p.buf[:0], nil), udp.Unmap(to))
}

// SetEndpoint sends peer's datagrams to endpoint from now on, as if it had
// roamed there: a path that went silent is given up for another (the
// relay) until a newer authentic datagram moves the peer again. OnRoam
// hears of it.
func (c *Conn) SetEndpoint(peer, endpoint netip.AddrPort) {
	p := c.peerFor(udp.Unmap(peer), false)
	if p == nil {
		return
	}
	endpoint = udp.Unmap(endpoint)
	p.mu.Lock()
	c.mu.Lock()
	moved := !p.removed && p.endpoint != endpoint
	if moved {
		c.moveLocked(p, endpoint)
	}
	c.mu.Unlock()
	p.mu.Unlock()
	if moved {
		c.roam(p.addr, endpoint)
	}
}

// Silent is how long we have been sending to peer without one authentic
// datagram back: zero while it answers. The transport above acknowledges
// every packet within a round trip, so a path whose Silent grows past a
// few round trips is dead.
func (c *Conn) Silent(peer netip.AddrPort) time.Duration {
	p := c.peerFor(udp.Unmap(peer), false)
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sendingSince.IsZero() {
		return 0
	}
	return time.Since(p.sendingSince)
}
