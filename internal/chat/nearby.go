package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// People nearby: whom LAN discovery hears (udpchat wires it to the node;
// chat knows nothing of beacons). They are hints, not peers: none is a
// recipient of anything until the user picks one (/connect, /msg, --peer)
// or it writes, and its key is proven only by the handshake that follows.

// Nearby is someone heard on the LAN, as an event: first heard, or heard
// with a new name or address. Node.Nearby lists them.
type Nearby struct {
	Name string
	// Fingerprint is of the key the person announces (unproven until a
	// handshake): two people may share a name, never a key.
	Fingerprint string
	Addr        netip.AddrPort // where they chat
	// Key is the key announced, whose Fingerprint is above: a contact
	// with it is marked as heard nearby (PeopleStore.ContactNearby).
	Key [32]byte
}

// Gone says someone nearby left the LAN, or has not been heard for a while.
type Gone struct {
	Name        string
	Fingerprint string
	Addr        netip.AddrPort
	Key         [32]byte
}

func (Nearby) isEvent() {}
func (Gone) isEvent()   {}

// ErrNotNearby is wrapped by FindNearby's error when no one nearby is
// called so.
var ErrNotNearby = errors.New("no one nearby is called so")

// nearbySet is the node's table of people nearby, by fingerprint; Node.mu
// guards it. Its zero value is empty.
type nearbySet struct {
	people map[string]Nearby
	// changed is closed (and replaced) at each change, for WaitNearby.
	changed chan struct{}
}

// changedLocked is the channel the next change closes.
func (s *nearbySet) changedLocked() <-chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

func (s *nearbySet) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// SawNearby tells the node that p was heard on the LAN. It emits Nearby if
// p is new or its name or address changed. Our own key (another process
// of ours, on a copy of the data dir) is not someone nearby.
//
// Call it for everyone still heard, every beacon interval or so, too: a
// contact among them is marked as heard nearby now, for `udpchat
// contacts` in another process to tell (never made a contact: a beacon is
// anyone's to send, and proves nothing).
func (n *Node) SawNearby(p Nearby) {
	if p.Fingerprint == "" || !p.Addr.IsValid() {
		return // nothing to tell people apart by, or to reach them at
	}
	p.Addr = Unmap(p.Addr)
	if n.people != nil && p.Key != ([32]byte{}) && p.Fingerprint != n.security.Fingerprint {
		n.markNearby(p.Key, p.Name)
	}
	n.update(func() []Event {
		if n.closed || p.Fingerprint == n.security.Fingerprint {
			return nil
		}
		s := &n.nearby
		if old, ok := s.people[p.Fingerprint]; ok && old == p {
			return nil
		}
		if s.people == nil {
			s.people = make(map[string]Nearby)
		}
		s.people[p.Fingerprint] = p
		s.notifyLocked()
		return []Event{p}
	})
}

// markNearby marks the contact with key, if there is one, as heard nearby
// now. A store that fails costs only the mark: it is logged.
func (n *Node) markNearby(key [32]byte, name string) {
	if _, err := n.people.ContactNearby(storeCtx, key, time.Time{}); err != nil {
		n.log.Debug("recording a contact heard nearby", "name", name, "err", err)
	}
}

// heardNearby says whether someone with key is nearby now.
func (n *Node) heardNearby(key [32]byte) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.nearby.people {
		if p.Key == key {
			return true
		}
	}
	return false
}

// NearbyGone tells the node that the person with the key of fingerprint
// is no longer heard on the LAN. It emits Gone if they were nearby.
func (n *Node) NearbyGone(fingerprint string) {
	n.update(func() []Event {
		s := &n.nearby
		p, ok := s.people[fingerprint]
		if !ok || n.closed {
			return nil
		}
		delete(s.people, fingerprint)
		s.notifyLocked()
		return []Event{Gone(p)}
	})
}

// Nearby lists the people nearby, by name (and, for one name, by key).
func (n *Node) Nearby() []Nearby {
	n.mu.Lock()
	ps := make([]Nearby, 0, len(n.nearby.people))
	for _, p := range n.nearby.people {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	slices.SortFunc(ps, func(a, b Nearby) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return ps
}

// FindNearby is the one person nearby who is. who is a name, in any case,
// or a key's fingerprint. None is an error wrapping ErrNotNearby; several
// of that name are an error listing their fingerprints.
func (n *Node) FindNearby(who string) (Nearby, error) {
	return FindNearby(n.Nearby(), who)
}

// FindNearby is Node.FindNearby among people, for a UI's copy of them.
func FindNearby(people []Nearby, who string) (Nearby, error) {
	var found []Nearby
	for _, p := range people {
		if strings.EqualFold(p.Fingerprint, who) || strings.EqualFold(p.Name, who) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return Nearby{}, fmt.Errorf("%w: %q", ErrNotNearby, who)
	case 1:
		return found[0], nil
	}
	fps := make([]string, len(found))
	for i, p := range found {
		fps[i] = p.Fingerprint
	}
	return Nearby{}, fmt.Errorf("%d people nearby are called %q, with the keys %s: name one by its key", len(found), who, strings.Join(fps, ", "))
}

// WaitNearby is FindNearby, waiting while no one nearby is who: until
// someone is, or ctx ends (the error is then FindNearby's).
func (n *Node) WaitNearby(ctx context.Context, who string) (Nearby, error) {
	for {
		n.mu.Lock()
		changed := n.nearby.changedLocked()
		n.mu.Unlock()
		p, err := n.FindNearby(who)
		if !errors.Is(err, ErrNotNearby) {
			return p, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return p, err
		}
	}
}
