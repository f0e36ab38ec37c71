package relaypath

import (
	"context"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
)

// choosePaths probes each relayed person's candidates while the relay
// carries them, and gives a direct path up for the relay when it goes
// silent.
func (r *Path) choosePaths(ctx context.Context) {
	t := time.NewTicker(probeFast)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, k := range r.unlooked() {
			go func() { // someone who wrote first, or known from before: punch back
				if _, err := r.Reach(ctx, k); err != nil {
					r.log.Debug("relay: lookup", "key", k.Fingerprint(), "err", err)
				}
			}()
		}
		for _, h := range r.handles() {
			r.choosePath(h, time.Now())
		}
	}
}

// unlooked are the relayed people whose candidates no one asked for yet.
func (r *Path) unlooked() []keys.PublicKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []keys.PublicKey
	for _, p := range r.people {
		if !p.looked {
			p.looked = true
			ks = append(ks, p.key)
		}
	}
	return ks
}

func (r *Path) handles() []netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := make([]netip.AddrPort, 0, len(r.people))
	for h := range r.people {
		hs = append(hs, h)
	}
	return hs
}

// choosePath looks at the path to the relayed person h: a direct one that
// went silent is given up for the relay; while the relay carries them,
// their candidates are probed. The secure conn is asked with r.mu free:
// the secure layer calls into r (KnownKey, Verify) with its own locks held.
func (r *Path) choosePath(h netip.AddrPort, now time.Time) {
	ep, ok := r.sec.Endpoint(h)
	if !ok {
		return // no session yet
	}
	dead := ep != h && r.sec.Silent(h) >= deadPath
	r.mu.Lock()
	p := r.people[h]
	if p == nil {
		r.mu.Unlock()
		return
	}
	var probe []netip.AddrPort
	report := false
	switch {
	case dead:
		p.reported = false
		p.burstUntil = now.Add(punchBurst)
	case ep != h:
		report, p.reported = !p.reported, true
		r.mux.watch(ep)
	case now.Before(p.burstUntil) || now.Sub(p.lastProbe) >= probeSlow:
		p.lastProbe = now
		probe = p.candidates
	}
	key := p.key
	r.mu.Unlock()
	switch {
	case dead:
		r.log.Debug("relay: the direct path went silent: back through the relay", "peer", key.Fingerprint(), "was", ep)
		r.sec.SetEndpoint(h, h)
	case report:
		r.log.Debug("relay: a direct path", "peer", key.Fingerprint(), "at", ep)
		r.client().ReportPunch(key, true)
		// Answer on it at once: the peer's probe opened it, and the peer
		// moves only when something authentic comes back that way, which
		// would otherwise wait for a message or the next keepalive.
		r.sec.Probe(h, ep)
	}
	for _, c := range probe {
		r.sec.Probe(h, c)
	}
}
