package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/command"
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
	room       string
}

func newHistoryFlags(h *historyOptions) *pflag.FlagSet {
	fs := newFlagSet("udpchat history")
	fs.StringVarP(&h.peer, "peer", "p", "", "only the messages exchanged with `P`: an address (HOST:PORT), a contact's name or fingerprint, or a display name")
	fs.StringVarP(&h.search, "search", "s", "", "only the messages whose text has every word of `TEXT` (each as a word or the start of one; case and accents ignored)")
	fs.StringVar(&h.since, "since", "", "only the messages since `T`: a Go duration back from now (90m, 2h, or 3d for days) or a time (2026-11-25, 2026-11-25 09:14, RFC 3339)")
	fs.IntVar(&h.limit, "limit", -1, "show the newest `N` matches; 0 shows all (default: 1000 when the output is a terminal, else all)")
	fs.BoolVar(&h.json, "json", false, "one JSON object a line")
	fs.BoolVar(&h.pending, "pending", false, "only the messages still waiting for delivery (the outbox), with their IDs")
	fs.StringVar(&h.cancel, "cancel", "", "cancel the pending message with this `ID` (or a unique start of it): it is not sent again")
	fs.StringVar(&h.cancelPeer, "cancel-peer", "", "cancel everything pending to `PEER` (as --peer takes it): for a peer that will never answer")
	fs.StringVar(&h.room, "room", "", "the messages of room `NAME`, in the order every member has them (with --json and --data-dir only)")
	fs.StringVar(&h.dataDir, "data-dir", "", "`DIR` of the history (default: the user config dir + /udpchat)")
	return fs
}

func historyUsage(fs *pflag.FlagSet) string {
	return `udpchat history: list or search what was said.

Usage:
  udpchat history [--peer P] [--search TEXT] [--since T] [--limit N] [--json]
  udpchat history --pending [--peer P] [--json]
  udpchat history --room NAME [--json]
  udpchat history --cancel ID
  udpchat history --cancel-peer PEER

Messages are listed oldest first, one a line:

  2026-11-25 09:14:03  -> 127.0.0.1:9002  alice: hello bob
  2026-11-25 09:14:09  <- 127.0.0.1:9002  bob: hi alice
  2026-11-25 09:15:40  -> 127.0.0.1:9002  [pending 5f0c2a9e]  alice: still there?

Files sent and received in a chat are listed among them, where each began:

  2026-11-25 09:16:02  -> 127.0.0.1:9002  [file done c65a5efa]  report.pdf (1.0 MiB) to bob

with its state (offered, accepted, done, declined, failed), and where it
landed or why it failed; --search matches a file's name. With --json a
file is an object of "type": "file".

-> is a message you sent to that peer, <- one it sent you; then the name of
the sender and the text (control characters escaped, as in the chat). A
message you sent that is not delivered is marked [pending ID] or
[cancelled ID], and one sent with --plain, which nothing acknowledges,
[plain]. A message sent to one peer alone (/msg), by you or to you, is
marked [direct]. --json prints every field, the full ID included.

On a terminal history shows the newest 1000 matches; piped or redirected,
all of them. --limit N shows the newest N (0: all); when it leaves some
out, a line on stderr says how many.

--peer P is an address (HOST:PORT), or a contact (udpchat contacts): their
fingerprint or name, the one you gave them or else the one they announce,
matched exactly, case included. A contact means that person, whatever
address they wrote from, and what was said at their addresses before their
key was known. A name no contact has means every address the
known peers bind it to and every address that sent messages under it. A
name that matches none prints one line on stderr and exits 1: an empty
listing would hide a typo.

history reads the database while udpchat runs (it takes no lock and writes
nothing). A message waits in the outbox, and goes again at each start of
udpchat, until its peer has it; --cancel ID gives up on it, --cancel-peer PEER
on everything waiting for that peer (PEER as --peer; to drop a contact too,
use udpchat contacts forget PEER). Both need the
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
	if h.room != "" {
		return roomHistoryCommand(ctx, dir, h.room, h.json, io)
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
		// --peer is a name or a fingerprint.
		if q.Peers, q.People, err = historyPeople(ctx, st, dir, h.peer); err != nil {
			return fail(io, "history", err)
		}
	}
	var ms []store.Message
	if h.pending {
		ms, err = st.Pending(ctx)
		if h.peer != "" {
			ms = slices.DeleteFunc(ms, func(m store.Message) bool { return !toAny(m, q.Peers, q.People) })
		}
	} else {
		ms, err = historyOf(ctx, st, q)
	}
	if err != nil {
		return fail(io, "history", err)
	}
	var ts []store.Transfer
	if !h.pending {
		ts, err = transfersBeside(ctx, st, q, ms)
	}
	if err != nil {
		return fail(io, "history", err)
	}
	var leftOut int
	if !h.pending && len(ms) == q.Limit {
		n, err := countOf(ctx, st, q)
		if err != nil {
			return fail(io, "history", err)
		}
		leftOut = n - len(ms)
	}
	if code := printHistory(io, mergeHistory(ms, ts), h.json); code != exitOK {
		return code
	}
	if leftOut > 0 {
		// After the listing, so that it is the last thing a person sees.
		fmt.Fprintf(io.err, "udpchat: history: %s not shown (only the newest %d); --limit 0 shows all\n",
			command.Count(leftOut, "older message"), len(ms))
	}
	return exitOK
}

// check refuses what the flags cannot mean together, before anything is
// opened.
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
	case h.room != "" && (h.cancel != "" || h.cancelPeer != "" || h.pending || h.peer != "" || h.search != "" || h.since != "" || fs.Changed("limit")):
		return usagef("--room takes no other flag but --json and --data-dir")
	case h.pending && (h.search != "" || h.since != "" || fs.Changed("limit")):
		return usagef("--pending lists the whole outbox; of the filters it takes only --peer")
	}
	return nil
}

// toAny says whether m was exchanged with one of peers (by address) or
// people (by key).
func toAny(m store.Message, peers []string, people [][32]byte) bool {
	return slices.Contains(peers, m.Peer) || m.Person != [32]byte{} && slices.Contains(people, m.Person)
}
