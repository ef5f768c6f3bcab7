package main

import (
	"flag"
	"fmt"
	"io"
)

// The scripts complete commands and flags; paths on the daemon would need a connection per
// keystroke, so arguments complete as local files (what DEST and MOUNTPOINT want).

const bashCompletion = `# bash completion for rangecast. Load it with:
#   source <(rangecast completion bash)
_rangecast() {
	local cur cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "serve get ls cat http mount share demo completion help" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	local flags=""
	case $cmd in
	serve) flags="--listen --udp --token --ice-server --max-peers --max-http-conns --grace --log-level --log-format --help" ;;
	get) flags="-o -c --force -r -j --help" ;;
	ls) flags="-l -R --json --help" ;;
	cat) flags="--range --help" ;;
	http) flags="--listen --help" ;;
	mount) flags="--debug --help" ;;
	share) flags="--expires --label --json --state-dir --help" ;;
	completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
	help) COMPREPLY=($(compgen -W "serve get ls cat http mount share demo completion" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _rangecast rangecast
`

const zshCompletion = `#compdef rangecast
# zsh completion for rangecast. Load it with:
#   source <(rangecast completion zsh)
# or save it as _rangecast in a directory of $fpath.
_rangecast() {
	local -a commands
	commands=(
		'serve:export a directory read-only'
		'get:download files or mirror a tree'
		'ls:list a directory'
		'cat:write a file or a byte range to stdout'
		'http:serve the remote files over loopback HTTP'
		'mount:mount the remote files read-only'
		'share:print a scoped, expiring link; list or revoke links'
		'demo:write a demo directory'
		'completion:print a shell completion script'
		'help:show help'
	)
	if (( CURRENT == 2 )); then
		_describe 'command' commands
		return
	fi
	case $words[2] in
	serve) _arguments '--listen[HTTP address]:address:' '--udp[UDP address]:address:' '--token[access token]:token:' '--ice-server[ICE server URL]:url:' '--max-peers[peer limit]:n:' '--grace[shutdown grace]:duration:' '--log-level[log level]:level:(debug info warn error)' '--help[show help]' '*:directory:_files -/' ;;
	get) _arguments '-o[output file]:file:_files' '-c[resume a partial download]' '--force[resume a file not recorded by rangecast]' '-r[mirror a directory tree]' '-j[files in flight]:n:' '--help[show help]' '*:argument:_files' ;;
	ls) _arguments '-l[long format]' '-R[recursive]' '--json[JSON output]' '--help[show help]' '*:argument:' ;;
	cat) _arguments '--range[byte range START-END]:range:' '--help[show help]' '*:argument:' ;;
	http) _arguments '--listen[loopback address]:address:' '--help[show help]' '*:argument:' ;;
	mount) _arguments "--debug[log every FUSE request]" '--help[show help]' '*:mountpoint:_files -/' ;;
	share) _arguments '--expires[how long the link works]:duration:' '--label[a note]:label:' '--json[JSON output]' '--state-dir[state directory]:dir:_files -/' '--help[show help]' '*:path:_files' ;;
	completion) _values 'shell' bash zsh ;;
	help) _describe 'command' commands ;;
	esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
	_rangecast "$@"
else
	compdef _rangecast rangecast
fi
`

func runCompletion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rangecast completion bash|zsh

Prints a completion script for the shell: commands, their flags, and local files.

Examples:
  source <(rangecast completion bash)                 # this bash session
  rangecast completion bash > /etc/bash_completion.d/rangecast
  source <(rangecast completion zsh)                  # this zsh session
  rangecast completion zsh > "${fpath[1]}/_rangecast"
`)
	}
	pos, help, err := parseFlags(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion takes one argument, SHELL: bash or zsh")
	}
	switch pos[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(stdout, zshCompletion)
	default:
		return usagef("completion: SHELL %q: want bash or zsh", pos[0])
	}
	return nil
}
