package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// historyOptions are history's flags.
type historyOptions struct {
	dataDir    string
	peer       string
	search     string
	since      string
	limit      int // -1: not given (see query)
	json       bool
	pending    bool
	cancel     string
	cancelPeer string
}

func newHistoryFlags(h *historyOptions) *pflag.FlagSet {
	fs := newFlagSet("udpchat history")
	fs.StringVarP(&h.peer, "peer", "p", "", "only the messages exchanged with `P`: an address (HOST:PORT) or a display name")
	fs.StringVarP(&h.search, "search", "s", "", "only the messages whose text has every word of `TEXT` (each as a word or the start of one; case and accents ignored)")
	fs.StringVar(&h.since, "since", "", "only the messages since `T`: a Go duration back from now (90m, 2h, or 3d for days) or a time (2026-11-25, 2026-11-25 09:14, RFC 3339)")
	fs.IntVar(&h.limit, "limit", -1, "show the newest `N` matches; 0 shows all (default: 1000 when the output is a terminal, else all)")
	fs.BoolVar(&h.json, "json", false, "one JSON object a line")
	fs.BoolVar(&h.pending, "pending", false, "only the messages still waiting for delivery (the outbox), with their IDs")
	fs.StringVar(&h.cancel, "cancel", "", "cancel the pending message with this `ID` (or a unique start of it): it is not sent again")
	fs.StringVar(&h.cancelPeer, "cancel-peer", "", "cancel everything pending to `PEER` (an address or a display name): for a peer that will never answer")
	fs.StringVar(&h.dataDir, "data-dir", "", "`DIR` of the history (default: the user config dir + /udpchat)")
	return fs
}

func historyUsage(fs *pflag.FlagSet) string {
	return `udpchat history: list or search what was said.

Usage:
  udpchat history [--peer P] [--search TEXT] [--since T] [--limit N] [--json]
  udpchat history --pending [--peer P] [--json]
  udpchat history --cancel ID
  udpchat history --cancel-peer PEER

Messages are listed oldest first, one a line:

  2026-11-25 09:14:03  -> 127.0.0.1:9002  alice: hello bob
  2026-11-25 09:14:09  <- 127.0.0.1:9002  bob: hi alice
  2026-11-25 09:15:40  -> 127.0.0.1:9002  [pending 5f0c2a9e]  alice: still there?

-> is a message you sent to that peer, <- one it sent you; then the name of
the sender and the text (control characters escaped, as in the chat). A
message you sent that is not delivered is marked [pending ID] or
[cancelled ID], and one sent with --plain, which nothing acknowledges,
[plain]. A message sent to one peer alone (/msg), by you or to you, is
marked [direct]. --json prints every field, the full ID included.

On a terminal history shows the newest 1000 matches; piped or redirected,
all of them. --limit N shows the newest N (0: all); when it leaves some
out, a line on stderr says how many.

--peer P is an address (HOST:PORT) or a display name, matched exactly, case
included, as the chat shows it. A name means every address the known peers
bind it to and every address that sent messages under it. A name that
matches none prints one line on stderr and exits 1: an empty listing would
hide a typo.

history reads the database while udpchat runs (it takes no lock and writes
nothing). A message waits in the outbox, and goes again at each start of
udpchat, until its peer has it; --cancel ID gives up on it, --cancel-peer PEER
on everything waiting for that peer. Both need the
data dir to itself, so stop the chat first: while it runs, it keeps offering
what it has queued. A message already on its way may still arrive.

Flags:
` + flagUsages(fs)
}

// historyCommand is udpchat history.
func historyCommand(ctx context.Context, args []string, io stdio) int {
	var h historyOptions
	fs := newHistoryFlags(&h)
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, historyUsage(fs))
		return exitOK
	}
	if err == nil {
		err = h.check(fs)
	}
	var q store.Query
	if err == nil {
		q, err = h.query(ctx, time.Now(), isTerminal(io.out))
	}
	if err != nil {
		return fail(io, "history", err)
	}
	dir, err := dataDirPath(h.dataDir)
	if err != nil {
		return fail(io, "history", err)
	}
	if h.cancel != "" {
		return cancelCommand(ctx, dir, h.cancel, io)
	}
	if h.cancelPeer != "" {
		return cancelPeerCommand(ctx, dir, h.cancelPeer, q.Peers, io)
	}

	st, err := store.OpenReadOnly(ctx, dir)
	if err != nil {
		return fail(io, "history", err)
	}
	defer st.Close()
	if h.peer != "" && len(q.Peers) == 0 {
		// --peer is a display name.
		if q.Peers, err = peersNamed(ctx, st, dir, h.peer); err != nil {
			return fail(io, "history", err)
		}
		if len(q.Peers) == 0 {
			// An empty listing would hide a typo.
			return fail(io, "history", fmt.Errorf("no peer named %q in the history or the known peers", h.peer))
		}
	}
	var ms []store.Message
	if h.pending {
		ms, err = st.Pending(ctx)
		if len(q.Peers) > 0 {
			ms = slices.DeleteFunc(ms, func(m store.Message) bool { return !slices.Contains(q.Peers, m.Peer) })
		}
	} else {
		ms, err = st.History(ctx, q)
	}
	if err != nil {
		return fail(io, "history", err)
	}
	var leftOut int
	if !h.pending && len(ms) == q.Limit {
		n, err := st.Count(ctx, q)
		if err != nil {
			return fail(io, "history", err)
		}
		leftOut = n - len(ms)
	}
	if code := printHistory(io, ms, h.json); code != exitOK {
		return code
	}
	if leftOut > 0 {
		// After the listing, so that it is the last thing a person sees.
		fmt.Fprintf(io.err, "udpchat: history: %s not shown (only the newest %d); --limit 0 shows all\n",
			command.Count(leftOut, "older message"), len(ms))
	}
	return exitOK
}

// printHistory prints ms on io.out, as JSON or as lines, in the chat's
// terms as the chat's UIs show them.
func printHistory(io stdio, ms []store.Message, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetEscapeHTML(false)
		for _, m := range ms {
			if err := enc.Encode(jsonHistory(chat.StoredMessage(m))); err != nil {
				return fail(io, "history", err)
			}
		}
		return exitOK
	}
	for _, m := range ms {
		if _, err := fmt.Fprintln(io.out, historyLine(chat.StoredMessage(m))); err != nil {
			return fail(io, "history", err)
		}
	}
	return exitOK
}

func (h *historyOptions) check(fs *pflag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %q: to search, give --search TEXT", fs.Arg(0))
	case h.limit < 0 && fs.Changed("limit"):
		return usagef("--limit %d: must be 0 (all) or more", h.limit)
	case h.cancel != "" && (h.pending || h.peer != "" || h.search != "" || h.since != "" || h.json || fs.Changed("limit")):
		return usagef("--cancel takes no other flag but --data-dir")
	case h.cancelPeer != "" && (h.cancel != "" || h.pending || h.peer != "" || h.search != "" || h.since != "" || h.json || fs.Changed("limit")):
		return usagef("--cancel-peer takes no other flag but --data-dir")
	case h.pending && (h.search != "" || h.since != "" || fs.Changed("limit")):
		return usagef("--pending lists the whole outbox; of the filters it takes only --peer")
	}
	return nil
}

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
// plain file read (there may be none), the store read-only.
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

// historyTime is how history lines show a time: local, to the second.
const historyTime = "2006-01-02 15:04:05"

// historyLine is m as one line of history. Everything from the peer or the
// user (peer, name, text) is escaped as the chat does, so one message is
// one line and cannot drive the terminal.
func historyLine(m chat.HistoryMessage) string {
	var b strings.Builder
	b.WriteString(m.At.Local().Format(historyTime))
	if m.Outgoing {
		b.WriteString("  -> ")
	} else {
		b.WriteString("  <- ")
	}
	b.WriteString(termsafe.Line(m.Peer))
	b.WriteString("  ")
	switch m.State {
	case chat.MessagePending, chat.MessageCancelled:
		fmt.Fprintf(&b, "[%v %s]  ", m.State, command.ShortID(m.ID))
	case chat.MessageSent:
		b.WriteString("[plain]  ")
	}
	if m.Direct {
		b.WriteString("[direct]  ")
	}
	if m.Action {
		fmt.Fprintf(&b, "* %s %s", termsafe.Line(m.Name), termsafe.Line(m.Text))
	} else {
		fmt.Fprintf(&b, "%s: %s", termsafe.Line(m.Name), termsafe.Line(m.Text))
	}
	return b.String()
}

// historyJSON is one message as --json prints it.
type historyJSON struct {
	Time        string `json:"time"`
	Direction   string `json:"direction"` // "out" or "in"
	Peer        string `json:"peer"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Text        string `json:"text"`
	Action      bool   `json:"action,omitempty"`
	Direct      bool   `json:"direct,omitempty"` // sent to that peer alone (/msg)
	State       string `json:"state"`            // pending, delivered, cancelled, received, sent
	DeliveredAt string `json:"delivered_at,omitempty"`
}

func jsonHistory(m chat.HistoryMessage) historyJSON {
	j := historyJSON{
		Time:      m.At.Format(time.RFC3339Nano),
		Direction: "in",
		Peer:      m.Peer,
		ID:        m.ID.String(),
		Name:      m.Name,
		Text:      m.Text,
		Action:    m.Action,
		Direct:    m.Direct,
		State:     m.State.String(),
	}
	if m.Outgoing {
		j.Direction = "out"
	}
	if !m.DeliveredAt.IsZero() {
		j.DeliveredAt = m.DeliveredAt.Format(time.RFC3339Nano)
	}
	return j
}

// openOutbox opens the store to change the outbox, as udpchat does, locked:
// while a chat runs on dir, that chat owns the outbox.
func openOutbox(ctx context.Context, dir string) (*store.MessageDB, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // for the messages
	}
	if _, err := os.Stat(filepath.Join(dir, store.DBName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("nothing to cancel: no history in %s", dir)
	}
	st, err := store.Open(ctx, dir)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("cannot cancel while another udpchat is using %s: stop it first (while it runs, it keeps offering what it has queued), then cancel", dir)
	}
	return st, err
}

// cancelPeerCommand is udpchat history --cancel-peer PEER: it takes out of
// the outbox everything waiting for the peer (peers: its store name, if
// PEER is an address; else PEER is a display name, resolved here).
func cancelPeerCommand(ctx context.Context, dir, name string, peers []string, io stdio) int {
	st, err := openOutbox(ctx, dir)
	if err != nil {
		return fail(io, "history", err)
	}
	defer st.Close()
	if len(peers) == 0 {
		if peers, err = peersNamed(ctx, st, dir, name); err != nil {
			return fail(io, "history", err)
		}
		if len(peers) == 0 {
			return fail(io, "history", fmt.Errorf("no peer named %q in the history or the known peers", name))
		}
	}
	for _, p := range peers {
		n, err := st.CancelPeer(ctx, p)
		if err != nil {
			return fail(io, "history", err)
		}
		fmt.Fprintf(io.out, "cancelled %s to %s: they will not be sent again\n", command.Count(n, "message"), termsafe.Line(p))
	}
	return exitOK
}

// cancelCommand is udpchat history --cancel ID: it takes the pending
// message whose ID starts with idArg out of the outbox, for every peer it
// waits for. It opens the store as udpchat does, locked, since it writes:
// while a chat runs on dir, that chat owns the outbox.
func cancelCommand(ctx context.Context, dir, idArg string, io stdio) int {
	prefix := strings.ToLower(idArg)
	if _, err := hex.DecodeString(prefix + strings.Repeat("0", len(prefix)%2)); err != nil || len(prefix) < 4 || len(prefix) > 32 {
		return fail(io, "history", usagef("--cancel %q: want a message ID, or at least its first 4 hex digits, as 'udpchat history --pending' shows it", idArg))
	}
	st, err := openOutbox(ctx, dir)
	if err != nil {
		return fail(io, "history", err)
	}
	defer st.Close()
	pending, err := st.Pending(ctx)
	if err != nil {
		return fail(io, "history", err)
	}
	var matches []store.Message
	ids := map[[16]byte]bool{}
	for _, m := range pending {
		if strings.HasPrefix(hex.EncodeToString(m.ID[:]), prefix) {
			matches = append(matches, m)
			ids[m.ID] = true
		}
	}
	switch {
	case len(matches) == 0:
		return fail(io, "history", fmt.Errorf("no pending message has an ID starting %s ('udpchat history --pending' lists them)", prefix))
	case len(ids) > 1:
		return fail(io, "history", fmt.Errorf("%d pending messages have IDs starting %s: give more of the ID", len(ids), prefix))
	}
	for _, m := range matches {
		if err := st.Cancel(ctx, m.Peer, m.ID); err != nil {
			return fail(io, "history", err)
		}
		fmt.Fprintf(io.out, "cancelled %x to %s: it will not be sent again\n", m.ID, termsafe.Line(m.Peer))
	}
	return exitOK
}
