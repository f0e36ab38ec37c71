package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/line"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

func sendUsage(fs *pflag.FlagSet) string {
	return `udpchat send: send messages and wait until they are delivered.

Usage:
  udpchat send -p PEER [flags] TEXT...
  udpchat send -p PEER [flags] -        one message per line of the input
  udpchat send --room NAME -p PEER TEXT post to a room you are in, through a member
  udpchat send -p PEER --file PATH      one file

PEER is HOST:PORT, or the name you gave a contact or a contact's key
fingerprint (udpchat contacts), or the name or fingerprint of a known peer
(udpchat trust --list), at the address they were last seen at: send does not
look for people on the LAN, as the chat does.

The words of TEXT are joined with spaces into one message. With -, each line
of the input is one message, sent as it is (no commands; blank lines are
skipped). The exit status is 0 once every peer has every message, and 1,
with the reason, if one does not within --timeout (after the end of the
input). With a relay (--relay, or the one the data dir remembers), what a
known person has not acknowledged by then is left in their mailbox at the
relay: it is held, said on stderr, and counts as delivered. With --plain
nothing is acknowledged, so 0 only means sent.

With --file, send offers the file to PEER, waits (without a limit) for the
person there to accept it, and exits 0 once PEER has the whole file and has
verified it; 1 if it is declined, cancelled, or makes no progress for
--timeout. A send killed and run again with the same file resumes: the
peer fetches only what it lacks.

send is the tool for scripts, and works beside a running chat: it uses the
data dir's identity and the name the chat goes by (see --name), takes a free
port unless --listen says otherwise, and keeps no history and no outbox: it
only reads the contacts in the data dir's database, so it works the same whether or
not a chat is running there, a message it could not deliver is never sent
again later behind your back (the exit status is the whole story), and what
it sends is not in 'udpchat history'.

Flags:
` + flagUsages(fs)
}

// sendCommand is udpchat send: messages from the command line or the input.
func sendCommand(ctx context.Context, args []string, io stdio) int {
	o := options{noStore: true, sendOnly: true} // see sendUsage
	fs := newFlagSet("udpchat send")
	o.addFlags(fs, "[::]:0")
	room := fs.String("room", "", "post to room `NAME` through the -p PEER, a member, and exit once it has it on disk (needs the data dir to itself)")
	var file string
	fs.StringVar(&file, "file", "", "send the file at `PATH` to the one PEER; exit 0 once it has verified the whole of it")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprint(io.out, sendUsage(fs))
		return exitOK
	}
	text := strings.Join(fs.Args(), " ")
	fromInput := fs.NArg() == 1 && fs.Arg(0) == "-"
	if err == nil {
		err = o.check(fs)
	}
	if err == nil && file != "" && *room != "" {
		// send --room reaches the room through one member, and a file goes
		// to each member over a session of its own (PROTOCOL F7).
		err = usagef("--file does not go to a room: send --room reaches one member, a file goes to each over their own session; in udpchat chat --room %s, /send PATH offers it to every member", *room)
	} else if err == nil && file != "" {
		err = checkSendFile(&o, text)
	} else if err == nil {
		err = checkSend(&o, text, fromInput)
	}
	if err == nil && *room != "" && fromInput {
		err = usagef("--room posts one message: give it after the flags, not -")
	}
	if err != nil {
		return fail(io, "send", err)
	}
	if *room != "" {
		return sendRoom(ctx, &o, *room, text, io)
	}
	node, find, closeLog, err := startNode(ctx, &o, io.err)
	if err != nil {
		return fail(io, "send", err)
	}
	defer closeLog()
	if o.plain {
		fmt.Fprintln(io.err, line.PlainWarning)
	}
	// Nothing here shows events but errors (and the one-time news of a
	// history left by address); the rest must still be read,
	// or the node would wait for a reader. A peer's refusal of our key is
	// kept for the end: it is why the message was not delivered.
	drained := make(chan struct{})
	var refused refusals
	var files *fileEvents
	if file != "" {
		files = newFileEvents()
	}
	go func() {
		defer close(drained)
		for ev := range node.Events() {
			switch ev := ev.(type) {
			case chat.Error:
				if !refused.note(ev.Err) {
					fmt.Fprintf(io.err, "udpchat: %s\n", termsafe.Line(ev.Err.Error()))
				}
			case chat.HistoryByAddress:
				fmt.Fprintf(io.err, "udpchat: %s\n", ev)
			}
			files.pass(ev)
		}
	}()
	switch {
	case file != "":
		err = sendFile(ctx, node, file, o.timeout, files)
	default:
		w := deliveryWait{node: node, timeout: o.timeout, refusedBy: refused.by, holdNow: find.holdNow, stderr: io.err}
		if fromInput {
			err = w.deliverLines(ctx, io)
		} else {
			err = w.deliver(ctx, text)
		}
	}
	node.Leave(ctx)
	<-drained
	if err != nil {
		return fail(io, "send", err)
	}
	return exitOK
}

// checkSendFile checks send --file's arguments: one peer, no text, a link
// that carries files.
func checkSendFile(o *options, text string) error {
	switch {
	case len(o.peers) != 1:
		return usagef("--file goes to one peer: give it with -p PEER")
	case text != "":
		return usagef("--file sends a file, not text: leave out %q", text)
	case o.plain:
		return usageError{chat.ErrNoFiles}
	}
	return nil
}

func checkSend(o *options, text string, fromInput bool) error {
	if len(o.peers) == 0 {
		return usagef("no peer to send to: give one with -p ADDR")
	}
	if text == "" {
		return usagef("nothing to send: give the message after the flags, or - to send each line of the input")
	}
	if fromInput {
		return nil
	}
	if err := chat.ValidateText(text); err != nil {
		return usageError{err}
	}
	return nil
}

// refusals are the peers that refused our key, by address.
type refusals struct {
	mu  sync.Mutex
	err map[netip.AddrPort]*RefusedError
}

// note keeps err if it is a refusal, and reports whether it was.
func (r *refusals) note(err error) bool {
	var refused *RefusedError
	if !errors.As(err, &refused) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = make(map[netip.AddrPort]*RefusedError)
	}
	r.err[refused.Peer] = refused
	return true
}

// by returns peer's refusal, or nil.
func (r *refusals) by(peer netip.AddrPort) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.err[peer]; err != nil {
		return err
	}
	return nil
}

// deliveryWait is how send waits for delivery: up to timeout, naming a
// peer that refused our key (refusedBy) as such, and then, with a relay,
// leaving what is left in its recipients' mailboxes (holdNow, if not nil),
// which stderr is told of.
type deliveryWait struct {
	node      *chat.Node
	timeout   time.Duration
	refusedBy func(netip.AddrPort) error
	holdNow   func(context.Context) error
	stderr    io.Writer
}

// deliver sends text and waits until every peer has it.
func (w deliveryWait) deliver(ctx context.Context, text string) error {
	if _, err := w.node.Send(text); err != nil {
		return fmt.Errorf("message not sent: %w", err)
	}
	return w.wait(ctx)
}

// deliverLines sends each line of the input as a message, as it comes, and
// at the end of the input waits until every peer has them all, or timeout
// passes. Lines that came together (a pipe) are handed to the node together
// (SendLines), as line mode hands them. A line that cannot be sent
// (too long, not UTF-8) is reported and the rest go on; it makes the result
// an error all the same.
func (w deliveryWait) deliverLines(ctx context.Context, io stdio) error {
	stop := make(chan struct{})
	defer close(stop)
	lines := line.ReadLines(io.in, chat.MaxTextLen, stop)
	notSent := 0
	var burst line.Burst
	var numbers []int // the input's line number of each line of burst
	send := func() {
		if burst.Len() == 0 {
			return
		}
		for i, res := range w.node.SendLines(burst.Take()) {
			if res.Err != nil {
				notSent++
				fmt.Fprintf(io.err, "udpchat: line %d not sent: %s\n", numbers[i], termsafe.Line(res.Err.Error()))
			}
		}
		numbers = numbers[:0]
	}
read:
	for n := 1; ; n++ {
		var in line.Input
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the end of the input")
		case got, ok := <-lines:
			if !ok {
				break read
			}
			in = got
		}
		switch {
		case errors.Is(in.Err, line.ErrLineTooLong):
			notSent++
			fmt.Fprintf(io.err, "udpchat: line %d not sent: it is longer than %d bytes (256 KiB), the most one message can hold\n", n, chat.MaxTextLen)
		case in.Err != nil:
			send()
			return fmt.Errorf("reading the input: %w", in.Err)
		case strings.TrimSpace(in.Line) == "":
		default:
			numbers = append(numbers, n)
			if burst.Add(in.Line, in.More) {
				send()
			}
			continue
		}
		if !in.More && burst.Len() > 0 {
			send()
		}
	}
	send()
	err := w.wait(ctx)
	if notSent > 0 {
		err = errors.Join(err, fmt.Errorf("%s of the input not sent (see above)", command.Count(notSent, "line")))
	}
	return err
}

// wait waits until every peer has everything sent, or timeout passes, and
// says what was not delivered to whom. With a relay, what is left then for
// people it knows goes to their mailboxes: held, as the chat has it, it
// gets there without us, and counts as delivered for the exit status.
func (w deliveryWait) wait(ctx context.Context) error {
	node, timeout := w.node, w.timeout
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := node.WaitDelivered(wctx); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted before everything was delivered")
		}
		var holdErr error
		if w.holdNow != nil {
			holdErr = w.holdNow(ctx)
		}
		// A peer that refused our key is the reason given for it; the
		// rest did not answer, or the relay holds what is theirs.
		var held, silent []chat.Sent
		var why []string
		refused := make(map[netip.AddrPort]bool)
		for _, s := range node.Undelivered() {
			err := w.refusedBy(s.To)
			switch {
			case err != nil && !refused[s.To]:
				refused[s.To] = true
				why = append(why, fmt.Sprintf("not delivered within %s: %v", timeout, err))
			case err != nil:
			case node.IsHeld(s.ID, s.To):
				held = append(held, s)
			default:
				silent = append(silent, s)
			}
		}
		if len(held) > 0 {
			fmt.Fprintf(w.stderr, "udpchat: held by the relay until they come back: %s\n", termsafe.Line(command.Undelivered(held, node.PeersKnown())))
		}
		if len(silent) > 0 {
			why = append(why, fmt.Sprintf("not delivered within %s: %s: no acknowledgement; is udpchat running there, without --plain, and does the network let UDP through?",
				timeout, command.Undelivered(silent, node.PeersKnown())))
			if holdErr != nil {
				why = append(why, fmt.Sprintf("not held by the relay either: %v", holdErr))
			}
		}
		if len(why) == 0 {
			return nil // all held
		}
		return errors.New(termsafe.Line(strings.Join(why, "; ")))
	}
	return nil
}
