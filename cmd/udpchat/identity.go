package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/trust"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// idCommand is udpchat id: this user's key fingerprint, for comparing with
// what peers see (the way to close trust on first use's first-contact gap).
func idCommand(args []string, io stdio) int {
	var dataDir string
	fs := newFlagSet("udpchat id")
	fs.StringVar(&dataDir, "data-dir", "", "`DIR` of the identity (default: the user config dir + /udpchat)")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, `udpchat id: print your identity key's fingerprint.

Peers remember it the first time you talk; read it to them (or they to you)
over another channel to be sure no one sat in between. udpchat makes the key
on first use.

Usage:
  udpchat id [--data-dir DIR]

Flags:
`+flagUsages(fs))
		return exitOK
	}
	if err == nil && fs.NArg() > 0 {
		err = usagef("unexpected argument %q: id takes none", fs.Arg(0))
	}
	if err != nil {
		return fail(io, "id", err)
	}
	dir, err := makeDataDir(dataDir, io.err)
	if err != nil {
		return fail(io, "id", err)
	}
	key, err := identity.Load(dir)
	if err != nil {
		return fail(io, "id", err)
	}
	fmt.Fprintln(io.out, key.Public().Fingerprint())
	return exitOK
}

// trustCommand is udpchat trust: accept a peer's new key deliberately, or
// list the known peers.
func trustCommand(args []string, io stdio) int {
	var dataDir string
	var list, isNew bool
	fs := newFlagSet("udpchat trust")
	fs.BoolVar(&list, "list", false, "list the known peers instead")
	fs.BoolVar(&isNew, "new", false, "bind a PEER no key is known for yet (pin a key before first contact)")
	fs.StringVar(&dataDir, "data-dir", "", "`DIR` of the known peers (default: the user config dir + /udpchat)")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, `udpchat trust: accept a peer's new identity key, or list the keys you know.

udpchat remembers the key each peer (address, and display name) first used,
and refuses another key later, with a warning naming both fingerprints: it
may be an impostor. If the peer really has a new key (check its fingerprint
with its owner: udpchat id), accept it:

Usage:
  udpchat trust PEER FINGERPRINT   PEER is the address (HOST:PORT) or display name
  udpchat trust --new PEER FINGERPRINT
  udpchat trust --list

PEER must be one udpchat knows (trust --list), so that a typo binds
nothing; --new binds a new one, to pin a key whose fingerprint you got
over another channel before you first talk. A key keeps the names it has:
a name given to a key known by another is bound to it as well.

A running udpchat picks the change up at the peer's next handshake.

Flags:
`+flagUsages(fs))
		return exitOK
	}
	if err == nil && !list && fs.NArg() != 2 {
		err = usagef("trust takes a PEER (address or name) and a FINGERPRINT, or --list")
	}
	if err == nil && list && fs.NArg() > 0 {
		err = usagef("--list takes no arguments")
	}
	if err != nil {
		return fail(io, "trust", err)
	}
	dir, err := makeDataDir(dataDir, io.err)
	if err != nil {
		return fail(io, "trust", err)
	}
	known, err := trust.Open(dir)
	if err != nil {
		return fail(io, "trust", err)
	}
	if list {
		entries, err := known.Entries()
		if err != nil {
			return fail(io, "trust", err)
		}
		listKnown(io.out, entries)
		return exitOK
	}
	peer, fingerprint := fs.Arg(0), fs.Arg(1)
	if err := known.Trust(peer, fingerprint, isNew); err != nil {
		if errors.Is(err, keys.ErrBadFingerprint) || errors.Is(err, trust.ErrUnknownPeer) {
			err = usageError{err}
		}
		return fail(io, "trust", err)
	}
	fmt.Fprintf(io.err, "udpchat: %s is now trusted as %s\n", fingerprint, peer)
	return exitOK
}

// listKnown writes the known peers as a table. Names are the peers' own
// choice, so they are escaped as the chat escapes them (termsafe.Line): a
// name must not drive the terminal, hide behind a bidirectional override,
// or forge a row with a newline. Earlier names a key still holds follow its name, in
// parentheses.
func listKnown(out io.Writer, entries []trust.Entry) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ADDRESS\tNAME\tFINGERPRINT")
	for _, e := range entries {
		name := orDashString(termsafe.Line(e.Name))
		if len(e.Aliases) > 0 {
			aliases := make([]string, len(e.Aliases))
			for i, a := range e.Aliases {
				aliases[i] = termsafe.Line(a)
			}
			name += " (was " + strings.Join(aliases, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", orDash(e.Addr), name, e.Fingerprint)
	}
	w.Flush()
}

func orDash(a netip.AddrPort) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

func orDashString(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
