package line

import "strings"

// What a line of input asks for.
type commandKind int

const (
	cmdSkip    commandKind = iota // a blank line
	cmdSay                        // send arg as a message
	cmdBye                        // send arg (the word), wait for delivery, leave
	cmdQuit                       // leave without sending
	cmdMe                         // send arg as an action
	cmdNick                       // change our name to arg
	cmdConnect                    // add the peer at arg
	cmdHelp                       // print help
	cmdUnknown                    // an unknown /command, named by arg
)

type command struct {
	kind commandKind
	arg  string
}

// parseLine says what line asks for. Only a line that is exactly bye or
// exit (any case, spaces around ignored) leaves; "goodbye" and "existing"
// are text. A line starting with // sends the rest, starting with /.
func parseLine(line string) command {
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "":
		return command{kind: cmdSkip}
	case strings.EqualFold(trimmed, "bye"), strings.EqualFold(trimmed, "exit"):
		return command{kind: cmdBye, arg: trimmed}
	case strings.HasPrefix(line, "//"):
		return command{kind: cmdSay, arg: line[1:]}
	case !strings.HasPrefix(line, "/"):
		return command{kind: cmdSay, arg: line}
	}
	name, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(name) {
	case "quit":
		return command{kind: cmdQuit}
	case "me":
		return command{kind: cmdMe, arg: arg}
	case "nick":
		return command{kind: cmdNick, arg: arg}
	case "connect":
		return command{kind: cmdConnect, arg: arg}
	case "help":
		return command{kind: cmdHelp}
	}
	return command{kind: cmdUnknown, arg: name}
}

// help is what /help prints.
const help = `Each line you type is sent to everyone in the conversation.
  /me ACTION      send an action, shown as "* NAME ACTION"
  /nick NAME      change your name
  /connect ADDR   add the peer at ADDR (IP:PORT or HOST:PORT)
  /quit           leave without sending anything more
  /help           show this help
  bye, exit       send it, wait until it is delivered, and leave
  //TEXT          send /TEXT
`
