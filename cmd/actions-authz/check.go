package main

import (
	"fmt"
	"io"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// check validates a configuration file: exit 0 when it loads, 1 when it does not.
func check(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("check", stderr)
	configPath := fs.String("config", "", "configuration file to validate (required)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return cli.Usage("check: --config is required")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w", *configPath, err)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d policies)\n", *configPath, len(cfg.Policies))
	return nil
}
