package main

import (
	"fmt"
	"net/netip"
	"text/tabwriter"

	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/trust"
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
	var list bool
	fs := newFlagSet("udpchat trust")
	fs.BoolVar(&list, "list", false, "list the known peers instead")
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
  udpchat trust --list

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
		w := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ADDRESS\tNAME\tFINGERPRINT")
		for _, e := range entries {
			fmt.Fprintf(w, "%s\t%s\t%s\n", orDash(e.Addr), orDashString(e.Name), e.Fingerprint)
		}
		w.Flush()
		return exitOK
	}
	peer, fingerprint := fs.Arg(0), fs.Arg(1)
	if err := known.Trust(peer, fingerprint); err != nil {
		return fail(io, "trust", usageError{err})
	}
	fmt.Fprintf(io.err, "udpchat: %s is now trusted as %s\n", fingerprint, peer)
	return exitOK
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
