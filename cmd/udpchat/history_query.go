package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
	"github.com/udpchat/udpchat/internal/udp"
)

// allMessages is a Query.Limit that leaves nothing out.
const allMessages = int(^uint(0) >> 1)

// query is the store query the flags ask for, for output to a terminal
// or not.
func (h *historyOptions) query(ctx context.Context, now time.Time, onTerminal bool) (store.Query, error) {
	q := store.Query{Search: h.search, Limit: h.limit}
	switch {
	case h.limit < 0 && onTerminal:
		// Not given: a screenful of history is what a person reads;
		// a script gets it all.
		q.Limit = store.DefaultLimit
	case h.limit <= 0:
		q.Limit = allMessages
	}
	if h.since != "" {
		t, err := parseSince(h.since, now)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	flag, peer := "--peer", h.peer
	if h.cancelPeer != "" {
		flag, peer = "--cancel-peer", h.cancelPeer // resolved as --peer is
	}
	if peer != "" {
		p, err := historyPeer(ctx, flag, peer)
		if err != nil {
			return q, err
		}
		if p != "" {
			q.Peers = []string{p}
		} // else a name or fingerprint, looked up in the data dir
	}
	return q, nil
}

// historyPeer is the store's name for the peer the user gave (with flag)
// as an address, as the chat saw it (so localhost:9002 is
// 127.0.0.1:9002), or "" if p is a display name or a key's fingerprint,
// which only the data dir can resolve (see historyPeople). A display name
// has no colon, so anything else with one is meant as an address, and a
// bad one is a usage error rather than a name that silently matches
// nothing.
func historyPeer(ctx context.Context, flag, p string) (string, error) {
	if addr, err := netip.ParseAddrPort(p); err == nil {
		return chat.PeerKey(chat.Unmap(addr)), nil
	}
	if _, err := keys.ParseFingerprint(p); err == nil {
		return "", nil
	}
	if !strings.Contains(p, ":") {
		if err := chat.ValidateName(p); err != nil {
			return "", usagef("%s %q: neither HOST:PORT nor a display name: %v", flag, p, err)
		}
		return "", nil
	}
	if _, _, err := net.SplitHostPort(p); err != nil {
		return "", usagef("%s %q: not HOST:PORT (e.g. 127.0.0.1:9002), nor a display name, which has no colon", flag, p)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addr, err := udp.ResolvePeer(ctx, p)
	if err != nil {
		return "", usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	return chat.PeerKey(addr), nil
}

// historyPeople is whom a --peer or --cancel-peer that is no address
// stands for. A contact (by fingerprint, or by name: see contactFor) is
// that person, whatever address they wrote from, and also the addresses
// they were seen at and those the name stands for (peersNamed), which
// hold what was said before their key was known. A name no contact has is
// the addresses peersNamed finds for it, as before udpchat kept contacts.
// A fingerprint no contact has is an error, as is a name no one has.
func historyPeople(ctx context.Context, st *store.MessageDB, dir, who string) (peers []string, people [][32]byte, err error) {
	c, ok, err := contactFor(ctx, st, who)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		peers, err = peersNamed(ctx, st, dir, who)
		return peers, nil, err
	}
	for _, e := range c.Endpoints {
		peers = append(peers, e.Address)
	}
	if _, err := keys.ParseFingerprint(who); err != nil {
		named, err := peersNamed(ctx, st, dir, who)
		if err != nil && !errors.Is(err, errNoPeerNamed) {
			return nil, nil, err
		}
		peers = append(peers, named...)
	}
	slices.Sort(peers)
	return slices.Compact(peers), [][32]byte{c.Key}, nil
}

// historyOf is the newest q.Limit messages exchanged with any of q.Peers
// (by address) or q.People (by person), oldest first. The store keeps the
// messages that match both, so with both it asks for each apart and
// merges them, once each.
func historyOf(ctx context.Context, st *store.MessageDB, q store.Query) ([]store.Message, error) {
	if len(q.Peers) == 0 || len(q.People) == 0 {
		return st.History(ctx, q)
	}
	byPerson, byAddress := q, q
	byPerson.Peers, byAddress.People = nil, nil
	a, err := st.History(ctx, byPerson)
	if err != nil {
		return nil, err
	}
	b, err := st.History(ctx, byAddress)
	if err != nil {
		return nil, err
	}
	type key struct {
		peer string
		dir  store.Direction
		id   [16]byte
	}
	seen := map[key]bool{}
	var ms []store.Message
	for _, m := range append(a, b...) {
		if k := (key{m.Peer, m.Direction, m.ID}); !seen[k] {
			seen[k] = true
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(x, y store.Message) int { return x.At.Compare(y.At) })
	return ms[max(0, len(ms)-q.Limit):], nil
}

// countOf is how many messages historyOf would return with no limit: the
// sum of those by person and those by address, less those that are both.
func countOf(ctx context.Context, st *store.MessageDB, q store.Query) (int, error) {
	if len(q.Peers) == 0 || len(q.People) == 0 {
		return st.Count(ctx, q)
	}
	byPerson, byAddress := q, q
	byPerson.Peers, byAddress.People = nil, nil
	var n [3]int
	for i, q := range []store.Query{byPerson, byAddress, q} {
		var err error
		if n[i], err = st.Count(ctx, q); err != nil {
			return 0, err
		}
	}
	return n[0] + n[1] - n[2], nil
}

// peersNamed is the store's names for the peers called name: the
// addresses the known peers bind it to, and those from which the history
// holds messages sent under it. Names are compared exactly, as the chat
// compares them. It reads both beside a running chat: known_peers with a
// plain file read (there may be none), the store read-only. A name that
// matches none is an error: an empty listing would hide a typo.
func peersNamed(ctx context.Context, st *store.MessageDB, dir, name string) ([]string, error) {
	peers, err := st.PeersNamed(ctx, name)
	if err != nil {
		return nil, err
	}
	known, err := trust.Open(dir)
	if err != nil {
		return nil, err
	}
	entries, err := known.Entries()
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name == name && e.Addr.IsValid() {
			peers = append(peers, chat.PeerKey(chat.Unmap(e.Addr)))
		}
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("%w %q in the history or the known peers", errNoPeerNamed, name)
	}
	slices.Sort(peers)
	return slices.Compact(peers), nil
}

// errNoPeerNamed is peersNamed's error for a name no one has.
var errNoPeerNamed = errors.New("no peer named")

// dateLayouts are the times --since takes besides RFC 3339, in local time.
var dateLayouts = []string{
	"2006-01-02",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
}

// parseSince turns --since into a time: a duration back from now, or a
// date and time.
func parseSince(s string, now time.Time) (time.Time, error) {
	bad := usagef("--since %q: want a duration back from now (90m, 2h, 3d) or a time (2026-11-25, 2026-11-25 09:14, 2026-11-25T09:14:03Z)", s)
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	}
	if err == nil {
		if d < 0 {
			return time.Time{}, bad
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, bad
}
