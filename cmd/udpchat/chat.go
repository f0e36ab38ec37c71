package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/ui/line"
	"github.com/udpchat/udpchat/internal/ui/tui"
)

// isTerminal says whether f is a terminal: the terminal UI needs one to
// read keys from and one to draw on.
func isTerminal(f any) bool {
	fd, ok := f.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(fd.Fd()))
}

// dumbTerminal says whether TERM names a terminal that cannot move its
// cursor (an editor's shell buffer, a serial console): the full-screen UI
// would be garbage there, so it gets line mode.
func dumbTerminal() bool { return os.Getenv("TERM") == "dumb" }

// chatFlags are chat's flags: the shared ones and the UI's.
type chatFlags struct {
	*pflag.FlagSet
	line        bool
	json        bool
	version     bool
	noDiscovery bool
	room        string
	files       fileFlags
}

func newChatFlags(o *options) *chatFlags {
	f := &chatFlags{FlagSet: newFlagSet("udpchat")}
	o.addFlags(f.FlagSet, "[::]:7475")
	f.BoolVar(&f.line, "line", false, "line mode even on a terminal")
	f.BoolVar(&f.json, "json", false, "line mode, with every event as a JSON object a line on stdout")
	f.StringVar(&f.room, "room", "", "make room `NAME` the conversation: yours, one you are invited to (joining it), or a new one")
	f.BoolVar(&f.noDiscovery, "no-discovery", false, "do not announce yourself on the LAN, nor show who is nearby")
	f.BoolVarP(&f.version, "version", "v", false, "print the version (as udpchat version does)")
	f.files.add(f.FlagSet)
	return f
}

func chatUsage(f *chatFlags) string {
	return `udpchat: chat machine to machine over UDP.

Usage:
  udpchat [flags]                     chat with each --peer and anyone who contacts you
  udpchat send -p PEER [flags] TEXT   send one message; exit 0 once it is delivered
  udpchat history [flags]             list or search what was said, or what waits in the outbox
  udpchat contacts [--json]           list the people udpchat knows: names, keys, addresses
  udpchat contacts rename PEER NAME   call a contact by a name of your choosing
  udpchat contacts forget PEER        drop a contact and cancel what waits for them
  udpchat id                          print your identity key's fingerprint
  udpchat trust PEER FINGERPRINT      accept a peer's new identity key (--list: the known ones)
  udpchat relay [flags]               run a rendezvous and relay server (udpchat relay --help)
  udpchat version                     print the version
  udpchat help                        print this help

Each command takes --help.

On a LAN, just run udpchat on each machine: each shows who else is nearby
(announced by UDP broadcast and multicast on port 7476; --no-discovery stops
it), and /msg NAME, /connect NAME or --peer NAME picks one. A --peer is
HOST:PORT, or the name you gave a contact (udpchat contacts rename: at the
address they were last seen at, unless nearby now), or the name or key
fingerprint of a known peer (udpchat trust --list) or of someone nearby,
which udpchat waits a few seconds to hear.

On a terminal, udpchat opens a full-screen chat that starts with your recent
history; /help there lists the commands and keys. Otherwise (input or output
not a terminal, TERM=dumb, or --line or --json) it runs in line mode: each line you type
is a message to every peer, and received messages print as "NAME: TEXT"
(nothing old is printed, except what an earlier run stored and was killed
before printing: see udpchat history). In either, a line that is just
bye or exit is sent, and then udpchat leaves; /quit leaves without sending.
At the end of input, line mode waits (up to --timeout) until everything is
delivered. What is not delivered stays in the outbox, in the data dir, and
goes when udpchat next starts there; /cancel (or udpchat history --cancel ID)
gives up on a message.

Flags:
` + flagUsages(f.FlagSet)
}

// chatCommand is udpchat [flags]: chat in the terminal UI, or in line mode
// until the input ends.
func chatCommand(ctx context.Context, args []string, io stdio) int {
	var o options
	f := newChatFlags(&o)
	help, err := parseFlags(f.FlagSet, args)
	if help {
		fmt.Fprint(io.out, chatUsage(f))
		return exitOK
	}
	if err == nil && f.version {
		return versionCommand(f.Args(), io)
	}
	if err == nil && f.NArg() > 0 {
		err = usagef("unexpected argument %q: chat reads messages from the input (to send one from the command line: udpchat send -p ADDR TEXT)", f.Arg(0))
	}
	if err == nil {
		err = o.check(f.FlagSet)
	}
	if err == nil && !o.plain {
		o.files, err = f.files.config()
	}
	if err != nil {
		return fail(io, "", err)
	}
	o.discover = !f.noDiscovery && !o.plain
	node, find, closeLog, err := startNode(ctx, &o, io.err)
	if err != nil {
		return fail(io, "", err)
	}
	defer closeLog()
	// /connect takes what --peer takes, without waiting for a name to be
	// heard, and refuses what it refuses: a multicast or broadcast
	// address, or this udpchat itself.
	resolve := func(ctx context.Context, who string) (netip.AddrPort, error) {
		var p netip.AddrPort
		var err error
		if isPeerName(who) {
			p, err = find.find(who)
		} else {
			p, err = udp.ResolvePeer(ctx, who)
		}
		if err == nil {
			err = checkPeer(who, p, node.LocalAddr(), localNets())
		}
		return p, err
	}
	if f.room != "" && o.plain {
		return fail(io, "", usagef("--room needs encryption: rooms are not for --plain"))
	}
	if !f.line && !f.json && isTerminal(io.in) && isTerminal(io.out) && !dumbTerminal() {
		return tui.Run(ctx, node, tui.Options{
			Timeout: o.timeout,
			Resolve: resolve,
			Stderr:  io.err,
			Room:    f.room,
		})
	}
	ctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	if ed := openEditor(io, interrupt); ed != nil {
		defer ed.Close()
		io = editorIO(io, ed)
	}
	return line.Run(ctx, node, io.in, io.out, io.err, line.Options{
		JSON:    f.json,
		Timeout: o.timeout,
		Resolve: resolve,
		Room:    f.room,
	})
}

// openEditor returns a line editor on the terminal (see line.Editor) when
// line mode reads from one and prints on it, or nil. interrupt is called
// for Ctrl+C, which raw mode delivers as a key rather than as SIGINT. A
// dumb terminal cannot redraw a line, and an editor's shell buffer (which
// says TERM=dumb) edits the line itself: both keep the terminal as it is.
func openEditor(io stdio, interrupt func()) *line.Editor {
	in, ok := io.in.(*os.File)
	if !ok || !isTerminal(in) || dumbTerminal() {
		return nil
	}
	var out *os.File
	for _, w := range []any{io.out, io.err} {
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			out = f
			break
		}
	}
	if out == nil {
		return nil // nothing printed can break into the line typed
	}
	ed, err := line.NewEditor(in, out, interrupt)
	if err != nil {
		return nil // the terminal as it is still works
	}
	return ed
}

// editorIO is io with ed reading the input and printing on whichever of
// stdout and stderr is the terminal.
func editorIO(io stdio, ed *line.Editor) stdio {
	io.in = ed
	if isTerminal(io.out) {
		io.out = ed
	}
	if isTerminal(io.err) {
		io.err = ed
	}
	return io
}
