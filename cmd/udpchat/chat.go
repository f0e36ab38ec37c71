package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/ui/line"
)

// chatFlags are chat's flags: the shared ones and the UI's.
type chatFlags struct {
	*pflag.FlagSet
	json bool
}

func newChatFlags(o *options) *chatFlags {
	f := &chatFlags{FlagSet: newFlagSet("udpchat")}
	o.addFlags(f.FlagSet, "0.0.0.0:7475")
	// Line mode is the only UI until the terminal UI lands; --line is
	// accepted now so that scripts written today keep working then.
	f.Bool("line", false, "line mode even on a terminal")
	f.BoolVar(&f.json, "json", false, "line mode, with every event as a JSON object a line on stdout")
	return f
}

func chatUsage(f *chatFlags) string {
	return `udpchat: chat machine to machine over UDP.

Usage:
  udpchat [flags]                     chat with the --peer addresses and anyone who contacts you
  udpchat send -p ADDR [flags] TEXT   send one message; exit 0 once it is delivered
  udpchat version                     print the version
  udpchat help                        print this help

Each line you type is a message to every peer; received messages print as
"NAME: TEXT". A line that is just bye or exit is sent, and then udpchat
leaves; /quit leaves without sending; /help lists the other commands. At the
end of input, udpchat waits (up to --timeout) until everything is delivered.

Flags:
` + flagUsages(f.FlagSet)
}

// chatCommand is udpchat [flags]: chat in line mode until the input ends.
func chatCommand(ctx context.Context, args []string, io stdio) int {
	var o options
	f := newChatFlags(&o)
	help, err := parseFlags(f.FlagSet, args)
	if help {
		fmt.Fprint(io.out, chatUsage(f))
		return exitOK
	}
	if err == nil && f.NArg() > 0 {
		err = usagef("unexpected argument %q: chat reads messages from the input (to send one from the command line: udpchat send -p ADDR TEXT)", f.Arg(0))
	}
	if err == nil {
		err = o.check(f.FlagSet)
	}
	if err != nil {
		return fail(io, "", err)
	}
	node, closeLog, err := startNode(ctx, &o)
	if err != nil {
		return fail(io, "", err)
	}
	defer closeLog()
	return line.Run(ctx, node, io.in, io.out, io.err, line.Options{
		JSON:    f.json,
		Timeout: o.timeout,
		Resolve: udp.ResolvePeer,
	})
}
