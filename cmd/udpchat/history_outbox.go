package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// openOutbox opens the store to change the outbox or the contacts (what
// verb says: cancel, rename, forget), as udpchat does, locked: while a chat
// runs on dir, that chat owns them.
func openOutbox(ctx context.Context, dir, verb string) (*store.MessageDB, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // for the messages
	}
	if _, err := os.Stat(filepath.Join(dir, store.DBName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("nothing to %s: no history in %s", verb, dir)
	}
	st, err := store.Open(ctx, dir)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("cannot %s while another udpchat is using %s: stop it first (while it runs, it keeps offering what it has queued), then %s", verb, dir, verb)
	}
	return st, err
}

// cancelPeerCommand is udpchat history --cancel-peer PEER: it takes out of
// the outbox everything waiting for the peer (peers: its store name, if
// PEER is an address; else PEER is a contact, cancelled by person, or a
// display name, resolved here as history --peer resolves it).
func cancelPeerCommand(ctx context.Context, dir, who string, peers []string, io stdio) int {
	st, err := openOutbox(ctx, dir, "cancel")
	if err != nil {
		return fail(io, "history", err)
	}
	defer st.Close()
	if len(peers) == 0 {
		c, ok, err := contactFor(ctx, st, who)
		if err != nil {
			return fail(io, "history", err)
		}
		if ok {
			return cancelPerson(ctx, st, c, io)
		}
		if peers, err = peersNamed(ctx, st, dir, who); err != nil {
			return fail(io, "history", err)
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

// cancelPerson cancels everything pending to c, wherever it was to go,
// and keeps the contact (udpchat contacts forget drops both).
func cancelPerson(ctx context.Context, st *store.MessageDB, c store.Contact, io stdio) int {
	pending, err := st.PendingTo(ctx, c.Key)
	if err != nil {
		return fail(io, "history", err)
	}
	for _, m := range pending {
		if err := st.Cancel(ctx, m.Peer, m.ID); err != nil {
			return fail(io, "history", err)
		}
	}
	fmt.Fprintf(io.out, "cancelled %s to %s (%s): they will not be sent again\n",
		command.Count(len(pending), "message"), termsafe.Line(c.Name()), fingerprint(c))
	return exitOK
}

// cancelCommand is udpchat history --cancel ID: it takes the pending
// message whose ID starts with idArg out of the outbox, for every peer it
// waits for. It opens the store as udpchat does, locked, since it writes:
// while a chat runs on dir, that chat owns the outbox.
func cancelCommand(ctx context.Context, dir, idArg string, io stdio) int {
	prefix, ok := command.IDPrefix(idArg)
	if !ok || len(prefix) < 4 {
		return fail(io, "history", usagef("--cancel %q: want a message ID, or at least its first 4 hex digits, as 'udpchat history --pending' shows it", idArg))
	}
	st, err := openOutbox(ctx, dir, "cancel")
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
		if strings.HasPrefix(chat.MessageID(m.ID).String(), prefix) {
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
