package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/wire"
)

// options are the flags chat and send share.
type options struct {
	name   string
	listen string
	peers  []string
	plain  bool
	// plainMax is --plain-max: the largest plain datagram to send.
	plainMax int
	dataDir  string
	timeout  time.Duration
	logFile  string
	// relay is --relay: [KEY@]HOST:PORT of a relay to reach people across
	// the internet through, or several separated by commas, one in use at
	// a time ("" for those remembered in the data dir).
	relay string
	// nameSet says --name was given, so an invalid one is an error rather
	// than a login name to sanitise.
	nameSet bool
	// noStore keeps startNode from opening the data dir's store (send).
	noStore bool
	// sendOnly says the node only sends (send): its features say so, so
	// that no peer makes it a recipient (chat.Config.SendOnly).
	sendOnly bool
	// discover says to announce this user on the LAN and hear who is
	// nearby (chat without --no-discovery; never --plain or send).
	discover bool
	// files says where files offered to us land (chat only).
	files chat.FileConfig
}

// minPlainMax is the least --plain-max: room for "a:b".
const minPlainMax = 3

// defaultTimeout is --timeout's default: how long end of input (chat) or
// send waits for delivery.
const defaultTimeout = 10 * time.Second

// newFlagSet returns a flag set that reports errors to its caller rather
// than printing them, and lists flags in the order they were defined.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// addFlags defines the shared flags on fs; listen is --listen's default.
func (o *options) addFlags(fs *pflag.FlagSet, listen string) {
	fs.StringVarP(&o.name, "name", "n", "", "display `NAME` peers see (default: your login name)")
	fs.StringVarP(&o.listen, "listen", "l", listen, "local UDP address `IP:PORT`; [::] is every address of both IP families, port 0 picks a free one")
	fs.StringArrayVarP(&o.peers, "peer", "p", nil, "a `PEER` to talk to: HOST:PORT, or the name or fingerprint of a contact, a known peer or someone nearby; repeatable")
	fs.BoolVar(&o.plain, "plain", false, "seed-compatible name:text datagrams: NO encryption, NO acknowledgements")
	fs.IntVar(&o.plainMax, "plain-max", wire.DefaultPlainMax, "with --plain, the largest datagram to send, in `BYTES`: what the peers read")
	fs.StringVar(&o.dataDir, "data-dir", "", "`DIR` for identity, known peers and history (default: the user config dir + /udpchat)")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "how long to wait for delivery, as a Go `DURATION` (2s, 1m)")
	fs.StringVar(&o.logFile, "log", "", "append a debug log to `FILE`")
	fs.StringVar(&o.relay, "relay", "", "reach people across the internet through the relay at `[KEY@]HOST:PORT`, or the first of several that answers (a,b,...: the next when it stops answering); each key pinned on first use; remembered in the data dir")
}

// flagUsages lists fs's flags, one a line, for --help. (pflag's own list
// shows booleans as --plain[=true|false], which no one should type.)
func flagUsages(fs *pflag.FlagSet) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *pflag.Flag) {
		names := "      --" + f.Name
		if f.Shorthand != "" {
			names = "  -" + f.Shorthand + ", --" + f.Name
		}
		arg, usage := pflag.UnquoteUsage(f)
		if arg != "" {
			names += " " + arg
		}
		switch f.DefValue {
		case "", "false", "[]":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\t%s\n", names, usage)
	})
	w.Flush()
	return b.String()
}

// parseFlags parses args into fs. It reports help=true for -h or --help,
// and a usageError for anything wrong.
func parseFlags(fs *pflag.FlagSet, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return false, usageError{err}
	}
	return false, nil
}

// check validates the shared flags that need no I/O.
func (o *options) check(fs *pflag.FlagSet) error {
	if o.timeout <= 0 {
		return usagef("--timeout %s: must be more than zero", o.timeout)
	}
	if fs.Changed("plain-max") {
		if !o.plain {
			return usagef("--plain-max is for --plain, which sends each message as one datagram")
		}
		if o.plainMax < minPlainMax || o.plainMax > wire.MaxPlainDatagram {
			return usagef("--plain-max %d: must be from %d to %d bytes", o.plainMax, minPlainMax, wire.MaxPlainDatagram)
		}
	}
	if o.plain && o.relay != "" {
		return usagef("--relay is for encrypted chat: a relay forwards sessions by key, and --plain has none")
	}
	o.nameSet = fs.Changed("name")
	return nil
}

// usageError is a mistake in the command line: it exits with exitUsage and
// points to --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// fail reports err as one line on stderr and returns the exit code for it.
// cmd names the command for the pointer to its help ("" for chat).
func fail(io stdio, cmd string, err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		help := "udpchat --help"
		if cmd != "" {
			help = "udpchat " + cmd + " --help"
		}
		fmt.Fprintf(io.err, "udpchat: %v (see '%s')\n", err, help)
		return exitUsage
	}
	fmt.Fprintf(io.err, "udpchat: %v\n", err)
	return exitFailure
}
