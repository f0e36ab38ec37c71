// Package tui is udpchat's terminal UI, built with Bubble Tea: a thin view
// over chat.Node that renders its events and turns keys into node calls.
// It owns no protocol logic, and knows neither the transport nor the wire
// (save the kind of a stored message, which Node.History returns as stored:
// see history.go).
//
// The model (model.go) is Elm-style: Update never does I/O. Node events
// arrive as messages from a Cmd that reads Node.Events, and everything that
// calls the node (sending, /nick, /connect, /cancel, the peers' RTTs, the
// history shown at start, leaving) runs in the Cmds of cmds.go. The model
// only wires the parts of the screen, each a sub-model with its own state
// and View: the transcript (transcript.go, with entry.go and history.go),
// the peers panel (peers.go) and the input (input.go); what a typed line
// does is in commands.go, and the header and status line in views.go.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// DefaultTimeout is how long bye waits for delivery when Options.Timeout is
// zero (as in line mode).
const DefaultTimeout = 10 * time.Second

// refreshEvery is how often the peers panel asks the node for RTTs.
const refreshEvery = time.Second

// Options tune Run.
type Options struct {
	// Timeout bounds the wait for delivery after bye; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Resolve turns /connect's argument into a peer address (udpchat passes
	// udp.ResolvePeer, which knows hostnames); nil accepts IP:PORT only.
	Resolve func(ctx context.Context, addr string) (netip.AddrPort, error)
	// Input and Output are the terminal; nil means stdin and stdout.
	Input  io.Reader
	Output io.Writer
	// Stderr gets, once the screen is restored, what was not delivered and
	// any error; nil means os.Stderr.
	Stderr io.Writer
	// Room, if not "", is the room to show at the start (--room): one of
	// ours, an invitation's, or a new one, as /room NAME.
	Room string
	// Env is the environment (TERM, NO_COLOR, …); nil means os.Environ().
	Env []string

	refreshEvery time.Duration // tests set it; Run uses refreshEvery
}

// Run chats on node in the terminal UI until the user leaves (Ctrl+C,
// /quit, or a line that is bye or exit) or ctx ends (SIGTERM), then leaves
// gracefully: it closes node, so peers see us leave. It returns the exit
// code, as line.Run does: 0 if everything sent was delivered, 1 if not
// (having said what and to whom on Stderr) or if the terminal failed.
func Run(ctx context.Context, node *chat.Node, opts Options) int {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	opts.refreshEvery = refreshEvery
	m := newModel(ctx, node, opts, noColorEnv(opts.Env))
	popts := []tea.ProgramOption{
		tea.WithEnvironment(opts.Env),
		// SIGINT and SIGTERM end ctx (see cmd/udpchat); we leave then.
		tea.WithoutSignalHandler(),
	}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	p := tea.NewProgram(m, popts...)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			p.Send(interruptMsg{})
		case <-stop:
		}
	}()
	_, err := p.Run()
	close(stop)
	close(m.stop)
	<-watched
	// Whatever ended the program, leave (a no-op if the model has).
	if lerr := node.Leave(ctx); lerr != nil && !errors.Is(lerr, context.DeadlineExceeded) && m.result.err == nil {
		m.result.err = lerr
	}
	code := 0
	if err != nil {
		fmt.Fprintf(opts.Stderr, "udpchat: terminal UI: %v\n", err)
		code = 1
	}
	if m.result.send != nil && m.result.send.err != nil {
		fmt.Fprintf(opts.Stderr, "udpchat: %v\n", m.result.send.err)
	}
	if m.result.err != nil {
		fmt.Fprintf(opts.Stderr, "udpchat: leaving: %v\n", m.result.err)
	}
	held, lost := command.SplitHeld(node.Undelivered(), node.IsHeld)
	if len(held) > 0 {
		fmt.Fprintf(opts.Stderr, "udpchat: %s\n", termsafe.Line(command.HeldText(held, node.PeersKnown())))
	}
	if len(lost) > 0 {
		when := "before leaving"
		if m.result.timedOut {
			when = "within " + opts.Timeout.String()
		}
		fmt.Fprintf(opts.Stderr, "udpchat: not delivered %s: %s\n", when, termsafe.Line(command.Undelivered(lost, node.PeersKnown())))
		if node.Durable() {
			fmt.Fprintf(opts.Stderr, "udpchat: %s\n", command.KeptNote(len(command.PendingMessages(lost))))
		}
		code = 1
	}
	return code
}

// noColorEnv says whether env asks for no colour (https://no-color.org: set
// and not empty).
func noColorEnv(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			return true
		}
	}
	return false
}
