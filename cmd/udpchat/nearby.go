package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/discovery"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
)

// People, not addresses: a chat on every address of the LAN announces its
// user there (internal/discovery) and hands the node whom it hears, so the
// UIs show who is nearby and --peer, /connect and /msg take a name.

// intervalEnv overrides discovery's beacon interval, as a Go duration. It
// is for tests, which must see a vanished peer go within seconds, not
// within discovery.ExpireIntervals intervals of 30 s.
const intervalEnv = "UDPCHAT_DISCOVERY_INTERVAL"

// lookingAfter is how long a --peer name may take to be found before
// udpchat says it is looking: a peer nearby answers an announcement at
// once, so a wait longer than this is worth a word.
const lookingAfter = 300 * time.Millisecond

// discoveryInterval is the beacon interval: discovery's own, or intervalEnv's.
func discoveryInterval() (time.Duration, error) {
	s := os.Getenv(intervalEnv)
	if s == "" {
		return discovery.DefaultInterval, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a Go duration more than zero (it is for tests)", intervalEnv, s)
	}
	return d, nil
}

// lan is LAN discovery feeding a node.
type lan struct {
	d        *discovery.Discoverer
	interval time.Duration
	done     chan struct{} // closed when every event is handed over
}

// startLAN announces key and name, chatting on chatPort, and hands node
// whom it hears until close.
func startLAN(ctx context.Context, node *chat.Node, key keys.PublicKey, name string, chatPort uint16, log *slog.Logger) (*lan, error) {
	interval, err := discoveryInterval()
	if err != nil {
		return nil, usageError{err}
	}
	d, err := discovery.Start(ctx, discovery.Config{Key: key, Name: name, ChatPort: chatPort, Interval: interval, Logger: log})
	if err != nil {
		return nil, err
	}
	l := &lan{d: d, interval: interval, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		// Everyone still heard is told again every interval, so that the
		// contacts among them stay marked as nearby (see Node.SawNearby).
		again := time.NewTicker(interval)
		defer again.Stop()
		for {
			select {
			case ev, ok := <-d.Events():
				if !ok {
					return
				}
				if ev.Kind == discovery.Gone {
					node.NearbyGone(ev.Peer.Key.Fingerprint())
					continue
				}
				node.SawNearby(nearbyOf(ev.Peer))
			case <-again.C:
				for _, p := range d.Nearby() {
					node.SawNearby(nearbyOf(p))
				}
			}
		}
	}()
	return l, nil
}

// nearbyOf is p as the node takes it.
func nearbyOf(p discovery.Peer) chat.Nearby {
	return chat.Nearby{Name: p.Name, Fingerprint: p.Key.Fingerprint(), Addr: p.Endpoint, Key: [32]byte(p.Key)}
}

// setName announces a new name (after /nick).
func (l *lan) setName(name string) {
	if l != nil {
		l.d.SetName(name) // a name the node took fits a beacon
	}
}

// close says on the LAN that we leave, and stops.
func (l *lan) close() {
	if l != nil {
		l.d.Close()
		<-l.done
	}
}

// lookWait bounds a wait for a --peer name to be heard: everyone nearby
// answers our first announcement at once and announces every interval, so
// whoever is not heard within an interval or two is not there.
func (l *lan) lookWait() time.Duration { return min(resolveTimeout, 2*l.interval) }

// isPeerName says whether a --peer or /connect argument names someone (a
// display name, which has no colon, or a key's fingerprint) rather than
// giving an address: an IP without its port is a mistaken address.
func isPeerName(p string) bool {
	if _, err := keys.ParseFingerprint(p); err == nil {
		return true
	}
	if strings.Contains(p, ":") {
		return false
	}
	_, err := netip.ParseAddr(p)
	return err != nil
}

// checkPeerName refuses a name no one can have.
func checkPeerName(p string) error {
	if _, err := keys.ParseFingerprint(p); err == nil {
		return nil
	}
	if err := chat.ValidateName(p); err != nil {
		return usagef("--peer %q: neither HOST:PORT nor a display name: %v", p, err)
	}
	return nil
}

// finder turns a name or fingerprint into an address: a contact by the
// name the user gave them or by fingerprint (their newest endpoint,
// unless they are nearby now), someone in the known peers (trust on first
// use's file: the last address they were seen at, unless they are nearby
// now) or someone nearby.
type finder struct {
	node     *chat.Node
	contacts contactBook       // nil without a store
	known    *trust.KnownPeers // nil in plain mode, which has no keys
	lan      *lan              // nil without discovery
	relay    *relaypath.Path   // nil without --relay
	// holdNow leaves what the node still has for people out of reach in
	// their mailboxes at the relay now: udpchat send's last resort, as it
	// keeps no outbox to wait in. Nil without a relay, and in the chat.
	holdNow func(context.Context) error
}

// contactBook is where the finder looks contacts up: the store.
type contactBook interface {
	Contacts(context.Context) ([]store.Contact, error)
}

// someone is whom a name or fingerprint stands for before discovery is
// asked: a key, and where it was last seen (invalid if nowhere).
type someone struct {
	fingerprint string
	addr        netip.AddrPort
	key         keys.PublicKey
}

// viaRelay is the handle of e, someone known not nearby, through the
// relay, if there is one and e is registered with it; else e's last
// address, if any.
func (f *finder) viaRelay(ctx context.Context, who string, e *someone) (netip.AddrPort, error) {
	if f.relay != nil {
		h, err := f.relay.Reach(ctx, e.key)
		if err == nil {
			return h, nil
		}
		if !e.addr.IsValid() {
			return netip.AddrPort{}, usagef("%s is not known nearby, and the relay cannot reach them: %v", who, err)
		}
	}
	return e.addr, nil
}

// errNoOne says no one is called so, for a usage error.
func errNoOne(who string, lan bool) error {
	where := "known (udpchat trust --list)"
	if lan {
		where = "known or nearby"
	}
	return fmt.Errorf("no one called %q is %s; an address is HOST:PORT", who, where)
}

// find is who's address, now: for /connect and /msg.
func (f *finder) find(who string) (netip.AddrPort, error) {
	return f.findWaiting(context.Background(), who, nil)
}

// findWaiting is find, which waits (up to lan.lookWait) for someone
// nearby to be heard when there is no one yet; a wait longer than
// lookingAfter is said on stderr, if not nil.
func (f *finder) findWaiting(ctx context.Context, who string, stderr io.Writer) (netip.AddrPort, error) {
	if f.known == nil {
		return netip.AddrPort{}, usagef("peer %q: plain mode knows peers by address only: give HOST:PORT", who)
	}
	want := who // a name, or the fingerprint of a known key
	e, err := f.whoIs(ctx, who)
	if err != nil {
		return netip.AddrPort{}, usageError{err}
	}
	if e != nil {
		want = e.fingerprint
	}
	if f.lan == nil {
		if e != nil && (e.addr.IsValid() || f.relay != nil) {
			return f.viaRelay(ctx, who, e)
		}
		return netip.AddrPort{}, usageError{errNoOne(who, false)}
	}
	p, err := f.node.FindNearby(want)
	switch {
	case err == nil:
		return p.Addr, nil
	case !errors.Is(err, chat.ErrNotNearby):
		return netip.AddrPort{}, usageError{err}
	case e != nil && (e.addr.IsValid() || f.relay != nil):
		return f.viaRelay(ctx, who, e) // not nearby: through the relay, or where it was last seen
	case stderr == nil:
		return netip.AddrPort{}, usageError{errNoOne(who, true)}
	}
	ctx, cancel := context.WithTimeout(ctx, f.lan.lookWait())
	defer cancel()
	soon, cancelSoon := context.WithTimeout(ctx, lookingAfter)
	p, err = f.node.WaitNearby(soon, want)
	cancelSoon()
	if errors.Is(err, chat.ErrNotNearby) && ctx.Err() == nil {
		fmt.Fprintf(stderr, "udpchat: looking for %s on the LAN…\n", who)
		p, err = f.node.WaitNearby(ctx, want)
	}
	switch {
	case err == nil:
		return p.Addr, nil
	case errors.Is(err, chat.ErrNotNearby):
		return netip.AddrPort{}, usageError{errNoOne(who, true)}
	}
	return netip.AddrPort{}, usageError{err}
}

// whoIs is whom who names, before discovery is asked: a contact (see
// contactAs), else a known peer (see knownAs); nil for no one.
func (f *finder) whoIs(ctx context.Context, who string) (*someone, error) {
	c, err := f.contactAs(ctx, who)
	if err != nil {
		return nil, err
	}
	var fp string
	if c != nil {
		fp = fingerprint(*c)
		if addr := newestEndpoint(*c); addr.IsValid() {
			return &someone{fp, addr, keys.PublicKey(c.Key)}, nil
		}
	}
	e, err := f.knownAs(cmp.Or(fp, who)) // a contact seen nowhere may be known somewhere
	switch {
	case err != nil:
		return nil, err
	case e != nil:
		return &someone{e.Fingerprint, e.Addr, e.Key}, nil
	case c != nil:
		return &someone{fingerprint: fp, key: keys.PublicKey(c.Key)}, nil
	}
	return nil, nil
}

// knownName is what the user knows person by: its contact's name (the one
// given it, else the one it last announced), else the trust file's; "" if
// neither knows it (chat.Config.KnownName).
func (f *finder) knownName(person [32]byte) string {
	if f.contacts != nil {
		if cs, err := f.contacts.Contacts(context.Background()); err == nil {
			if i := slices.IndexFunc(cs, func(c store.Contact) bool { return c.Key == person }); i >= 0 && cs[i].Name() != "" {
				return cs[i].Name()
			}
		}
	}
	if f.known != nil {
		if es, err := f.known.Entries(); err == nil {
			if i := slices.IndexFunc(es, func(e trust.Entry) bool { return e.Key == keys.PublicKey(person) }); i >= 0 {
				return es[i].Name
			}
		}
	}
	return ""
}

// contactAs is the contact who is: the one the user named so (udpchat
// contacts rename; in any case, as known peers are named), or the one
// whose key has that fingerprint; nil for none. Several are an error
// naming them.
func (f *finder) contactAs(ctx context.Context, who string) (*store.Contact, error) {
	if f.contacts == nil {
		return nil, nil
	}
	cs, err := f.contacts.Contacts(ctx)
	if err != nil {
		return nil, err
	}
	fp, fpErr := keys.ParseFingerprint(who)
	var found []store.Contact
	for _, c := range cs {
		if fpErr == nil && fingerprint(c) == fp || fpErr != nil && c.GivenName != "" && strings.EqualFold(c.GivenName, who) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	return nil, ambiguous(who, found)
}

// knownAs is the known peer who is (a name it goes or went by, in any
// case, or its fingerprint), or nil. Several are an error naming them.
func (f *finder) knownAs(who string) (*trust.Entry, error) {
	entries, err := f.known.Entries()
	if err != nil {
		return nil, err
	}
	fp, fpErr := keys.ParseFingerprint(who)
	var found []trust.Entry
	for _, e := range entries {
		if fpErr == nil && e.Fingerprint == fp || fpErr != nil && calledSo(e, who) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	fps := make([]string, len(found))
	for i, e := range found {
		fps[i] = e.Fingerprint
	}
	return nil, fmt.Errorf("%d known peers are called %q, with the keys %s: name one by its key", len(found), who, strings.Join(fps, ", "))
}

// calledSo says e goes or went by the name who, in any case.
func calledSo(e trust.Entry, who string) bool {
	if strings.EqualFold(e.Name, who) {
		return true
	}
	for _, a := range e.Aliases {
		if strings.EqualFold(a, who) {
			return true
		}
	}
	return false
}
