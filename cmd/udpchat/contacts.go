package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// contactsOptions are contacts' flags.
type contactsOptions struct {
	dataDir string
	json    bool
	yes     bool
}

func newContactsFlags(c *contactsOptions) *pflag.FlagSet {
	fs := newFlagSet("udpchat contacts")
	fs.BoolVar(&c.json, "json", false, "list the contacts as one JSON object a line")
	fs.BoolVarP(&c.yes, "yes", "y", false, "forget without asking (needed when the input is not a terminal)")
	fs.StringVar(&c.dataDir, "data-dir", "", "`DIR` of the contacts (default: the user config dir + /udpchat)")
	return fs
}

func contactsUsage(fs *pflag.FlagSet) string {
	return `udpchat contacts: the people udpchat knows, by key.

Usage:
  udpchat contacts [--json]
  udpchat contacts rename PEER NAME
  udpchat contacts forget PEER [--yes]

A contact is a person: a key, the name they announce, and the addresses
they were seen at. udpchat adds whoever it chats with (someone merely heard
nearby is not a contact: a beacon proves nothing until a chat does).
contacts lists them by name, one block each:

  bob (announces "bobby")  BLAKE2s:MZXW-6YTB-OI3D-EMRT-GQ2T-MNZU-GY3D-KMJV
    last seen 2026-11-25 09:14:03, nearby as last heard
    192.168.1.20:7475  wrote from it      2026-11-25 09:14:03
    127.0.0.1:9002     given with --peer  2026-11-25 08:02:41

Nearby means heard on the LAN in the last 99 s (three beacon intervals) as
the chat last recorded it: contacts does not listen itself. It reads the
database while udpchat runs; --json prints every field.

PEER is a contact's name (the one you gave them, else the one they
announce, matched exactly), their key's fingerprint (case and dashes
forgiven), or an address (HOST:PORT) they were seen at. One that is no
contact's, or a name two contacts have, prints one line and exits 2.

rename gives PEER a NAME of your choosing, which you then call them by
whatever they announce: in udpchat contacts, history --peer NAME, --peer
NAME and /connect NAME.

forget cancels every message waiting for PEER, says which, and drops the
contact; what was said stays in the history. It asks first on a terminal;
elsewhere it needs --yes. To give up on what waits for someone and keep
them as a contact, use udpchat history --cancel-peer PEER.

rename and forget change the data dir, so stop the chat on it first.

Flags:
` + flagUsages(fs)
}

// contactsCommand is udpchat contacts: list, rename or forget contacts.
func contactsCommand(ctx context.Context, args []string, io stdio) int {
	var c contactsOptions
	fs := newContactsFlags(&c)
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, contactsUsage(fs))
		return exitOK
	}
	if err == nil {
		err = c.check(fs, isTerminal(io.in))
	}
	var dir string
	if err == nil {
		dir, err = dataDirPath(c.dataDir)
	}
	if err != nil {
		return fail(io, "contacts", err)
	}
	switch fs.Arg(0) {
	case "rename":
		err = renameContact(ctx, dir, fs.Arg(1), fs.Arg(2), io)
	case "forget":
		err = forgetContact(ctx, dir, fs.Arg(1), c.yes, io)
	default:
		err = listContacts(ctx, dir, c.json, io)
	}
	if err != nil {
		return fail(io, "contacts", err)
	}
	return exitOK
}

// check refuses what the arguments cannot mean, before anything is
// opened. onTerminal says whether forget can ask.
func (c *contactsOptions) check(fs *pflag.FlagSet, onTerminal bool) error {
	sub, args := fs.Arg(0), fs.Args()
	switch {
	case sub == "" && c.yes:
		return usagef("--yes is for forget")
	case sub == "":
		return nil
	case sub != "rename" && sub != "forget":
		return usagef("unexpected argument %q: contacts lists, or takes rename PEER NAME or forget PEER", sub)
	case c.json:
		return usagef("--json is for the listing, not %s", sub)
	case sub == "rename" && c.yes:
		return usagef("--yes is for forget")
	case sub == "rename" && len(args) != 3:
		return usagef("rename takes a PEER and a NAME")
	case sub == "forget" && len(args) != 2:
		return usagef("forget takes one PEER")
	case sub == "forget" && !c.yes && !onTerminal:
		return usagef("forget %s: not asking, as the input is not a terminal; give --yes to forget without asking", termsafe.Line(args[1]))
	}
	return nil
}

// renameContact gives the contact who the name given.
func renameContact(ctx context.Context, dir, who, given string, io stdio) error {
	if err := chat.ValidateName(given); err != nil {
		return usageError{fmt.Errorf("rename to %q: %w", given, err)}
	}
	st, err := openOutbox(ctx, dir, "rename")
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := mustContact(ctx, st, who)
	if err != nil {
		return err
	}
	if err := st.Rename(ctx, c.Key, given); err != nil {
		return err
	}
	fmt.Fprintf(io.out, "%s (%s) is now called %s\n", termsafe.Line(c.Name()), fingerprint(c), termsafe.Line(given))
	return nil
}

// forgetContact drops the contact who and cancels what waits for them,
// after asking on the terminal unless yes.
func forgetContact(ctx context.Context, dir, who string, yes bool, io stdio) error {
	st, err := openOutbox(ctx, dir, "forget")
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := mustContact(ctx, st, who)
	if err != nil {
		return err
	}
	if !yes {
		pending, err := st.PendingTo(ctx, c.Key)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.err, "Forget %s (%s), and cancel the %s waiting for them? [y/N] ",
			termsafe.Line(c.Name()), fingerprint(c), command.Count(len(pending), "message"))
		if !confirmed(io) {
			return errors.New("nothing forgotten")
		}
	}
	cancelled, err := st.Forget(ctx, c.Key)
	if err != nil {
		return err
	}
	if len(cancelled) == 0 {
		fmt.Fprintf(io.out, "forgot %s (%s); nothing was waiting for them\n", termsafe.Line(c.Name()), fingerprint(c))
		return nil
	}
	fmt.Fprintf(io.out, "forgot %s (%s); cancelled %s, which will not be sent:\n",
		termsafe.Line(c.Name()), fingerprint(c), command.Count(len(cancelled), "message"))
	for _, m := range cancelled {
		m.State = store.Cancelled // as it is now
		fmt.Fprintln(io.out, historyLine(chat.StoredMessage(m)))
	}
	return nil
}

// confirmed reads the answer to a question: yes or y, in any case.
func confirmed(io stdio) bool {
	answer, _ := bufio.NewReader(io.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	}
	return false
}
