package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/line"
)

func sendUsage(fs *pflag.FlagSet) string {
	return `udpchat send: send one message and wait until it is delivered.

Usage:
  udpchat send -p ADDR [flags] TEXT...

The words of TEXT are joined with spaces. The exit status is 0 once every
peer has the message, and 1, with the reason, if one does not have it within
--timeout. With --plain nothing is acknowledged, so 0 only means sent.
Unless --listen says otherwise, send uses a free port, so it works beside a
running chat.

send keeps no history and no outbox: it does not open the database in the
data dir, so it works the same whether or not a chat is running there, a
message it could not deliver is never sent again later behind your back (the
exit status is the whole story), and what it sends is not in 'udpchat
history'.

Flags:
` + flagUsages(fs)
}

// sendCommand is udpchat send: one message, from the command line.
func sendCommand(ctx context.Context, args []string, io stdio) int {
	o := options{noStore: true} // see sendUsage
	fs := newFlagSet("udpchat send")
	o.addFlags(fs, "0.0.0.0:0")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, sendUsage(fs))
		return exitOK
	}
	text := strings.Join(fs.Args(), " ")
	if err == nil {
		err = o.check(fs)
	}
	if err == nil {
		err = checkSend(&o, text)
	}
	if err != nil {
		return fail(io, "send", err)
	}
	node, closeLog, err := startNode(ctx, &o, io.err)
	if err != nil {
		return fail(io, "send", err)
	}
	defer closeLog()
	if o.plain {
		fmt.Fprintln(io.err, line.PlainWarning)
	}
	// Nothing here shows events but errors; the rest must still be read,
	// or the node would wait for a reader.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range node.Events() {
			if e, ok := ev.(chat.Error); ok {
				fmt.Fprintf(io.err, "udpchat: %v\n", e.Err)
			}
		}
	}()
	err = deliver(ctx, node, text, o.timeout)
	node.Leave(ctx)
	<-drained
	if err != nil {
		return fail(io, "send", err)
	}
	return exitOK
}

func checkSend(o *options, text string) error {
	if len(o.peers) == 0 {
		return usagef("no peer to send to: give one with -p ADDR")
	}
	if text == "" {
		return usagef("nothing to send: give the message after the flags")
	}
	if err := chat.ValidateText(text); err != nil {
		return usageError{err}
	}
	return nil
}

// deliver sends text and waits until every peer has it, or timeout passes.
func deliver(ctx context.Context, node *chat.Node, text string, timeout time.Duration) error {
	if _, err := node.Send(text); err != nil {
		return fmt.Errorf("message not sent: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := node.WaitDelivered(wctx); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted before the message was delivered")
		}
		var to []string
		for _, s := range node.Undelivered() {
			to = append(to, s.To.String())
		}
		return fmt.Errorf("not delivered to %s within %s: no acknowledgement; is udpchat running there, without --plain, and does the network let UDP through?",
			strings.Join(to, ", "), timeout)
	}
	return nil
}
