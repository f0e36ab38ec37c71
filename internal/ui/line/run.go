// Package line is udpchat's line mode: each line of input is a message to
// every peer, each message received is a line of output. It is what runs
// when the input or output is not a terminal, and with --json it prints
// every event as a JSON object a line, for scripts.
package line

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// DefaultTimeout is how long the end of input waits for delivery when
// Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// resolveTimeout bounds /connect's name lookup, which holds up input.
const resolveTimeout = 10 * time.Second

// PlainWarning is said once on stderr by every command in plain mode.
const PlainWarning = "udpchat: PLAIN MODE: messages are sent unencrypted and unacknowledged"

// Options tune Run.
type Options struct {
	// JSON prints every event, not only messages, as one JSON object a line
	// on stdout.
	JSON bool
	// Timeout bounds the wait for delivery at the end of input and after
	// bye; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolve turns /connect's argument into a peer address (udpchat passes
	// udp.ResolvePeer, which knows hostnames); nil accepts IP:PORT only.
	Resolve func(ctx context.Context, addr string) (netip.AddrPort, error)
	// Room, if not "", is the room to make the conversation at the start
	// (--room): one of ours, an invitation's, or a new one (see openRoom).
	Room string
}

// Run chats on node in line mode until the input ends, a line says bye,
// exit or /quit, or ctx ends (SIGINT), then leaves gracefully: it closes
// node, so peers see us leave. It returns the exit code: 0 if every line
// was sent and everything sent was delivered; 1 if a line was not sent (too
// long, not UTF-8, too big for a plain datagram, no one to send to: each
// said when it happened, and counted in a last line), if something sent
// was not delivered (having said what and to whom), or if reading the input
// failed. A script piping lines in learns from the exit code alone whether
// all of them arrived.
//
// Run returns without waiting for a Read on in that is still pending, since
// a Read on a terminal cannot be interrupted; it only stops using in.
func Run(ctx context.Context, node *chat.Node, in io.Reader, stdout, stderr io.Writer, opts Options) (exitCode int) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	r := &runner{node: node, out: newOutput(stdout, stderr, opts.JSON), opts: opts}
	r.out.status("listening on %s as %s", node.LocalAddr(), termsafe.Line(node.Name()))
	if node.Plain() {
		r.out.raw(PlainWarning + "\n")
	}

	printed := make(chan struct{})
	go func() {
		defer close(printed)
		r.out.printEvents(node, node.Events())
	}()
	if opts.Room != "" {
		if err := r.openRoom(opts.Room); err != nil {
			r.out.error(fmt.Errorf("--room %s: %w", opts.Room, err))
			r.leave(ctx, false)
			<-printed
			return 1
		}
	}
	stop := make(chan struct{})
	waitForDelivery, readErr := r.chat(ctx, ReadLines(in, chat.MaxTextLen, stop))
	close(stop)
	timedOut := r.leave(ctx, waitForDelivery)
	<-printed // Close has closed Events

	if readErr != nil {
		r.out.error(fmt.Errorf("reading input: %w", readErr))
	}
	delivered := r.reportUndelivered(timedOut)
	if r.notSent > 0 {
		r.out.error(fmt.Errorf("%s of input not sent (see above)", command.Count(r.notSent, "line")))
	}
	if !delivered || r.notSent > 0 || readErr != nil {
		return 1
	}
	return 0
}

// runner is the state of one Run; the input loop owns it.
type runner struct {
	node *chat.Node
	out  *output
	opts Options
	// notSent counts the lines meant as messages that went to no one.
	notSent int
	// room is the room that is the conversation, "" for the peers.
	room string
	// lastRoomMsg is our newest room message, for /info.
	lastRoomMsg *chat.RoomMessage
	// burst holds the messages of lines that came together (Input.More),
	// to send in one SendLines.
	burst Burst
}

// sendBurst sends the lines of the burst, if any, and reports each.
func (r *runner) sendBurst() {
	if r.burst.Len() == 0 {
		return
	}
	for _, res := range r.node.SendLines(r.burst.Take()) {
		r.reportSend(res.Sent, res.Err)
	}
}

// chat handles input until it is time to leave, and says whether to wait
// for delivery first (end of input, bye) or not (/quit, ctx).
//
// Lines of text that came together are sent together (SendLines: one
// commit), in order with everything else: a line of another kind sends
// the burst before it is handled.
func (r *runner) chat(ctx context.Context, lines <-chan Input) (waitForDelivery bool, readErr error) {
	defer r.sendBurst()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case in, ok := <-lines:
			if !ok {
				return true, nil
			}
			cmd := command.Parse(in.Line)
			if in.Err == nil && cmd.Kind == command.Say && r.room == "" && (in.More || r.burst.Len() > 0) {
				if r.burst.Add(cmd.Arg, in.More) {
					r.sendBurst()
				}
				continue
			}
			r.sendBurst()
			switch {
			case in.Err == ErrLineTooLong:
				r.notSent++
				r.out.error(fmt.Errorf("line not sent: it is longer than %d bytes (256 KiB), the most one message can hold", chat.MaxTextLen))
			case in.Err != nil:
				return true, in.Err
			default:
				if leave, wait := r.handle(ctx, cmd); leave {
					return wait, nil
				}
			}
		}
	}
}

// help is what /help prints.
var help = "Each line you type is sent to everyone in the conversation.\n" + command.Usage()

// handle carries out one command and says whether to leave, and if so
// whether to wait for delivery first.
func (r *runner) handle(ctx context.Context, cmd command.Command) (leave, waitForDelivery bool) {
	switch cmd.Kind {
	case command.Skip:
	case command.Say, command.Bye:
		if r.room != "" {
			r.sayRoom(cmd.Arg)
		} else {
			r.reportSend(r.node.Send(cmd.Arg))
		}
		return cmd.Kind == command.Bye, true
	case command.Room, command.Invite, command.Join, command.Part, command.Leave, command.Remove, command.Topic, command.Members, command.Info:
		if err := r.roomCommand(cmd); err != nil {
			r.out.error(err)
		}
	case command.Quit:
		return true, false
	case command.Me:
		if cmd.Arg == "" {
			r.out.error(errors.New("/me needs an action, e.g. /me waves"))
			break
		}
		r.reportSend(r.node.SendAction(cmd.Arg))
	case command.Nick:
		if cmd.Arg == "" {
			r.out.nick("", r.node.Name())
			break
		}
		old := r.node.Name()
		if err := r.node.SetName(cmd.Arg); err != nil {
			r.out.error(err)
			if r.node.Name() != cmd.Arg {
				break
			}
			// Some peers were not told, but the name changed.
		}
		r.out.nick(old, cmd.Arg)
	case command.Connect:
		if err := r.connect(ctx, cmd.Arg); err != nil {
			r.out.error(err)
		}
	case command.Cancel:
		if command.IsFileCancel(r.node, cmd.Arg) {
			r.file(cmd)
			break
		}
		r.cancel(cmd.Arg)
	case command.SendFile, command.Accept, command.Decline:
		r.file(cmd)
	case command.Forget:
		r.forget(cmd.Arg)
	case command.Rename:
		r.rename(cmd.Arg)
	case command.Help:
		if cmd.Arg == "" {
			r.out.raw(help)
			break
		}
		row, err := command.Explain(cmd.Arg, false)
		if err != nil {
			r.out.error(err)
			break
		}
		r.out.raw(row)
	case command.Unknown:
		r.out.error(fmt.Errorf("unknown command /%s (nothing sent); /help lists the commands, and //%[1]s sends the text /%[1]s", cmd.Arg))
	default: // a command of the terminal UI
		spec, _ := command.Lookup(cmd.Kind)
		r.out.error(fmt.Errorf("/%s works in the terminal UI only (nothing sent); /help lists the commands of line mode", spec.Name))
	}
	return false, false
}

// file carries out a file command and says what came of it on stderr.
func (r *runner) file(cmd command.Command) {
	said, err := command.RunFile(r.node, r.room, cmd)
	if err != nil {
		r.out.error(err)
		return
	}
	r.out.info("%s", said)
}

// reportSend shows why a send failed, if it did, and counts a line that
// went to no one as not sent. (One that reached some peers and not others
// has said to whom it was not sent.)
func (r *runner) reportSend(sent []chat.Sent, err error) {
	switch {
	case err == nil:
	case len(sent) == 0:
		r.notSent++
		r.out.error(fmt.Errorf("line not sent: %w", err))
	default:
		r.out.error(err)
	}
}

// cancel is /cancel [ID]: it gives up on our newest message waiting for
// delivery, or on the one whose ID starts with arg, and says so on stderr.
func (r *runner) cancel(arg string) {
	if r.node.Plain() {
		r.out.error(errPlainCancel)
		return
	}
	pending := command.PendingMessages(r.node.Undelivered())
	p, err := command.FindPending(pending, arg)
	if err != nil {
		r.out.error(err)
		return
	}
	cancelled, err := r.node.Cancel(p.ID)
	if len(cancelled) > 0 {
		r.out.info("%s", command.CancelledText(p, cancelled, r.node.Peers(), len(pending)-1))
	}
	if err != nil {
		r.out.error(err)
	}
}

// forget is /forget PEER: line mode does it at once (a script has no one
// to confirm it), and says so on stderr.
func (r *runner) forget(who string) {
	if who == "" {
		r.out.error(errors.New("/forget needs a peer, e.g. /forget bob or /forget 192.0.2.7:7475"))
		return
	}
	p, err := command.FindPeer(r.node.Peers(), who)
	if err != nil && !errors.Is(err, chat.ErrUnknownPeer) {
		r.out.error(err)
		return
	}
	cancelled, err := r.node.Forget(p.Addr)
	if err != nil {
		r.out.error(err)
		return
	}
	r.out.info("%s", command.ForgotText(p, cancelled))
}

// rename is /rename PEER [NAME], said on stderr.
func (r *runner) rename(arg string) {
	who, given := command.SplitPeer(arg)
	if who == "" {
		r.out.error(errors.New(command.RenameUsage))
		return
	}
	p, err := command.FindPeer(r.node.Peers(), who)
	if err == nil {
		err = r.node.Rename(p.Addr, given)
	}
	if err != nil {
		r.out.error(err)
		return
	}
	r.out.info("%s", command.RenamedText(p, given))
}

var errPlainCancel = errors.New("nothing to cancel: plain mode acknowledges nothing, so no message waits for delivery")

func (r *runner) connect(ctx context.Context, addr string) error {
	if addr == "" {
		return errors.New("/connect needs an address or a name, e.g. /connect 192.0.2.7:7475 or /connect carol")
	}
	peer, err := r.resolve(ctx, addr)
	if err != nil {
		return err
	}
	return r.node.Connect(peer)
}

func (r *runner) resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	if r.opts.Resolve == nil {
		peer, err := netip.ParseAddrPort(addr)
		if err != nil {
			return peer, fmt.Errorf("/connect %s: want IP:PORT, e.g. 192.0.2.7:7475", addr)
		}
		return peer, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return r.opts.Resolve(ctx, addr)
}

// waitNoticeAfter is how long the wait for delivery at the end of input
// goes on before it is said: long enough that a pipe to peers who answer
// prints nothing more, short enough that a user at a terminal who pressed
// Ctrl+D is not left in silence for the whole --timeout.
var waitNoticeAfter = time.Second

// leave waits for delivery if asked, bounded by the timeout and by ctx (so
// Ctrl-C stops the wait), and closes the node. It reports whether the wait
// ran out of time. A message a relay holds needs us no longer: once all
// that is left is held, the wait is over (reportUndelivered says so).
func (r *runner) leave(ctx context.Context, waitForDelivery bool) (timedOut bool) {
	if waitForDelivery {
		deadline := time.Now().Add(r.opts.Timeout)
		wctx, cancel := context.WithDeadline(ctx, deadline)
		waited := make(chan error, 1)
		go func() { waited <- r.node.WaitSettled(wctx) }()
		notice := time.NewTimer(waitNoticeAfter)
		var err error
		select {
		case err = <-waited:
		case <-notice.C:
			if lost := r.node.Undelivered(); len(lost) > 0 {
				r.out.status("waiting up to %s for delivery: %s (Ctrl+C stops waiting)",
					time.Until(deadline).Round(time.Second), termsafe.Line(command.Undelivered(lost, r.node.PeersKnown())))
			}
			err = <-waited
		}
		notice.Stop()
		// What is left undelivered shows in Undelivered.
		timedOut = err != nil && ctx.Err() == nil
		cancel()
	}
	if err := r.node.Leave(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		r.out.error(fmt.Errorf("leaving: %w", err))
	}
	return timedOut
}

// reportUndelivered says what was sent and not delivered, and to whom, and
// reports whether everything was delivered.
//
// A message a relay holds in its recipient's mailbox is not lost: it gets
// there without us, and the next start learns it did (a receipt). It is
// reported, and counts as delivered for the exit status.
func (r *runner) reportUndelivered(timedOut bool) bool {
	held, lost := command.SplitHeld(r.node.Undelivered(), r.node.IsHeld)
	if len(held) > 0 {
		r.out.status("%s", command.HeldText(held, r.node.PeersKnown()))
	}
	if len(lost) == 0 {
		return true
	}
	// Those nothing answered at are named first: what was typed for them
	// is gone with this run (see chat.Sent.Kept).
	for _, a := range r.node.Unanswered() {
		if !slices.ContainsFunc(lost, func(s chat.Sent) bool { return s.To == a }) {
			continue
		}
		kept := slices.ContainsFunc(lost, func(s chat.Sent) bool { return s.To == a && s.Kept })
		r.out.status("%s", command.Unanswered(a, kept))
	}
	when := "before leaving"
	if timedOut {
		when = "within " + r.opts.Timeout.String()
	}
	r.out.error(fmt.Errorf("not delivered %s: %s", when, command.Undelivered(lost, r.node.PeersKnown())))
	if r.node.Durable() {
		kept := slices.DeleteFunc(slices.Clone(lost), func(s chat.Sent) bool { return !s.Kept })
		if len(kept) > 0 {
			r.out.status("%s", command.KeptNote(len(command.PendingMessages(kept))))
		}
	}
	return false
}
