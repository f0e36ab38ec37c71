// Command udpchat chats machine to machine over UDP: reliably by default,
// or in --plain mode with the classic UDP chat scripts and nc -u.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM end ctx, which every command treats as "leave
	// gracefully"; a second signal, after stop, kills as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

// stdio is where a command reads and writes; stderr belongs to the user,
// so logs never go there (see --log).
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // something did not work: a message not delivered, a dir not writable
	exitUsage   = 2 // the command line is wrong: a flag, an address, a name
)

// run dispatches to the command args name; chat is the default.
func run(ctx context.Context, args []string, io stdio) int {
	name, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	}
	switch name {
	case "":
		return chatCommand(ctx, rest, io)
	case "send":
		return sendCommand(ctx, rest, io)
	case "history":
		return historyCommand(ctx, rest, io)
	case "contacts":
		return contactsCommand(ctx, rest, io)
	case "id":
		return idCommand(rest, io)
	case "trust":
		return trustCommand(rest, io)
	case "version":
		return versionCommand(rest, io)
	case "relay":
		return relayCommand(ctx, rest, io)
	case "help":
		fmt.Fprint(io.out, chatUsage(newChatFlags(new(options))))
		return exitOK
	}
	return fail(io, "", usagef("unknown command %q; the commands are send, history, contacts, id, trust, relay, version and help (to chat, give no command)", name))
}
