package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/gctune"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/service"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// serve runs the service (package service) with the configuration file and
// flags of args until ctx is done.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := service.Options{LogOutput: stderr, Version: buildVersion()}
	fs := cli.NewFlagSet("serve", stderr)
	fs.StringVar(&o.ConfigPath, "config", "", "configuration file (required)")
	fs.StringVar(&o.GRPCAddr, "grpc-addr", "", "ext_authz gRPC listen address (overrides server.grpc_addr)")
	fs.StringVar(&o.HTTPAddr, "http-addr", "", "health and metrics listen address (overrides server.http_addr)")
	fs.BoolVar(&o.Dev, "dev", false, "also run and trust an embedded development issuer (never in production)")
	fs.StringVar(&o.DevAddr, "dev-addr", "127.0.0.1:9002", "listen address of the development issuer (with --dev)")
	gcTuning := fs.Bool("gc-tuning", true, "size the garbage collector for a small heap, unless GOGC or GOMEMLIMIT is set (false: Go's defaults)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if o.ConfigPath == "" {
		return cli.Usage("serve: --config is required")
	}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w", o.ConfigPath, err)
	}
	var tuner *gctune.Tuner
	o.OnLogger = func(logger *slog.Logger) { tuner = startGCTuning(*gcTuning, logger) }
	defer func() { tuner.Stop() }()
	s, err := service.New(cfg, o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
