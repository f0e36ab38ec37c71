package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
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
	if h.cancelPeer != "" {
		h.peer = h.cancelPeer // resolved as --peer is
		defer func() { h.peer = "" }()
	}
	if h.peer != "" {
		p, err := historyPeer(ctx, h.peer)
		if err != nil {
			return q, err
		}
		if p != "" {
			q.Peers = []string{p}
		} // else a name, looked up in the data dir
	}
	return q, nil
}

// historyPeer is the store's name for the peer the user gave as an
// address, as the chat saw it (so localhost:9002 is 127.0.0.1:9002), or ""
// if p is a display name, which only the data dir can resolve (see
// peersNamed). A display name has no colon, so anything with one is meant
// as an address, and a bad one is a usage error rather than a name that
// silently matches nothing.
func historyPeer(ctx context.Context, p string) (string, error) {
	if addr, err := netip.ParseAddrPort(p); err == nil {
		return chat.PeerKey(chat.Unmap(addr)), nil
	}
	if !strings.Contains(p, ":") {
		if err := chat.ValidateName(p); err != nil {
			return "", usagef("--peer %q: neither HOST:PORT nor a display name: %v", p, err)
		}
		return "", nil
	}
	if _, _, err := net.SplitHostPort(p); err != nil {
		return "", usagef("--peer %q: not HOST:PORT (e.g. 127.0.0.1:9002), nor a display name, which has no colon", p)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addr, err := udp.ResolvePeer(ctx, p)
	if err != nil {
		return "", usageError{fmt.Errorf("--peer: %w", err)}
	}
	return chat.PeerKey(addr), nil
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
		return nil, fmt.Errorf("no peer named %q in the history or the known peers", name)
	}
	slices.Sort(peers)
	return slices.Compact(peers), nil
}

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
