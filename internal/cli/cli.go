// Package cli is the frame the project's commands share: the context that
// SIGINT and SIGTERM cancel, flags that report mistakes instead of exiting,
// and the exit code an error stands for (2 for a command-line mistake, 0
// for --help, 1 for any other failure).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a command's whole program: main only adds signals, the
// process's arguments and output, and the exit code.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with a context that SIGINT and SIGTERM cancel, and exits
// the process: with 0 when run returns nil, else after printing the error
// behind the command's name, with ExitCode of it. Help asked with -h or
// --help exits 0 without a message.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, name+":", err)
	os.Exit(ExitCode(err))
}

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit returns err carrying the process exit code code, for a failure whose
// code is not 1: 2 for input the command refuses, for example.
func Exit(code int, err error) error {
	return &exitError{code: code, err: err}
}

// Usage returns a command-line mistake, formatted as fmt.Errorf does: the
// process exits with 2.
func Usage(format string, args ...any) error {
	return Exit(2, fmt.Errorf(format, args...))
}

// ExitCode is the process exit code that err stands for: 0 for nil and for
// help asked with -h or --help, 2 for a command-line mistake (Usage,
// ParseFlags), 1 for any other failure.
func ExitCode(err error) int {
	var e *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.code
	}
	return 1
}

// NewFlagSet returns a flag set that reports its errors on stderr and to
// its caller instead of exiting.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// ParseFlags parses args with fs and refuses positional arguments; see
// Parse for its errors.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usage("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return nil
}

// Parse parses args with fs, leaving positional arguments in fs.Args. Its
// errors are command-line mistakes, except help asked with -h or --help,
// which wraps flag.ErrHelp and exits 0.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Exit(0, err)
		}
		return Exit(2, err)
	}
	return nil
}
