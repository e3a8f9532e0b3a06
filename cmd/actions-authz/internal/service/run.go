package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/forwardauth"
)

// Run serves until ctx is done (SIGTERM or SIGINT in the binary), drains
// (see drain), then stops, and closes everything New built. Everything
// it starts runs on its own context, which ends only after the drain:
// Checks go on being answered meanwhile.
func (s *Service) Run(signalled context.Context) error {
	defer s.closeBuilt()
	cfg, logger := s.cfg, s.logger
	ctx, cancel := context.WithCancel(context.WithoutCancel(signalled))
	defer cancel()

	// Listen first, so that a busy port fails before anything starts.
	grpcLis, err := net.Listen("tcp", cfg.Server.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	defer grpcLis.Close()
	httpLis, err := net.Listen("tcp", cfg.Server.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	defer httpLis.Close()
	faLis, err := listenForwardAuth(cfg.Server.ForwardAuthAddr)
	if err != nil {
		return err
	}
	if faLis != nil {
		defer faLis.Close()
	}

	// Whatever the way out, the goroutines below end with ctx: cancel it
	// before waiting for them.
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	errc := make(chan error, 4)

	if s.dev != nil {
		s.dev.serve(&wg, errc)
		defer s.dev.srv.Close()
		logger.Warn("DEVELOPMENT ISSUER ENABLED: tokens minted by this process are trusted; never use --dev in production",
			"issuer", s.dev.issuer.URL(), "mint", s.dev.issuer.URL()+"/token")
	}

	// Keys and reloads: the key fetchers run until ctx is done, SIGHUP is
	// caught until Run returns.
	s.keys.start(ctx)
	defer s.keys.Stop()
	hup := s.opts.TestHooks.HUP
	if hup == nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
	}
	wg.Go(func() { s.reloader.run(ctx, hup) })
	defer signal.Stop(hup)

	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := s.grpcSrv.Serve(grpcLis); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.httpSrv.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		s.ready.track(ctx)
	}()
	if faLis != nil {
		serveForwardAuth(ctx, s.forwardAuth, faLis, cfg.Server.ShutdownGrace, &wg, errc)
		logger.Info("forward-auth serving", "forward_auth_addr", faLis.Addr().String(),
			"envoy_prefix", forwardauth.EnvoyPrefix, "verify_path", forwardauth.VerifyPath)
	}
	logger.Info("serving", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String(),
		"grpc_tls", tlsMode(cfg.Server.TLS), "policies", len(cfg.Policies), "version", s.opts.Version)

	var runErr error
	select {
	case <-signalled.Done():
		// Tell Envoy's health checks first, and go on answering until
		// they have taken this replica out.
		wasReady := s.keys.Ready()
		s.ready.draining.Store(true)
		s.health.Shutdown()
		runErr = s.drain(wasReady, errc)
		logger.Info("shutting down", "grace", cfg.Server.ShutdownGrace.String())
	case runErr = <-errc:
		logger.Error("server failed, shutting down", "error", runErr)
		s.health.Shutdown()
	}
	cancel()
	// Stop taking Checks, and let in-flight ones finish.
	s.stop()
	return runErr
}

// drain waits server.drain_delay while the health says NOT_SERVING and
// Checks are still answered, so that Envoy's health checks take this
// replica out before it stops taking Checks; otherwise Envoy would learn it
// from refused connections, and a Check sent at that moment would fail. A
// second SIGTERM or SIGINT (Ctrl-C pressed twice) ends the wait at once, a
// server failing too. A service that was not ready has nothing to drain:
// its health already said NOT_SERVING.
func (s *Service) drain(wasReady bool, errc <-chan error) error {
	delay := config.DefaultDrainDelay
	if d := s.cfg.Server.DrainDelay; d != nil {
		delay = *d
	}
	if s.opts.TestHooks.SkipDrain || delay <= 0 || !wasReady {
		return nil
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	s.logger.Info("draining: health is NOT_SERVING and Checks are still answered, so Envoy's health checks take this replica out first; signal again to stop now",
		"drain_delay", delay.String())
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case sig := <-again:
		s.logger.Info("drain cut short", "signal", sig.String())
		return nil
	case err := <-errc:
		s.logger.Error("server failed while draining, shutting down", "error", err)
		return err
	}
}

// stop drains the servers within the shutdown grace, then closes them.
func (s *Service) stop() {
	grace := s.cfg.Server.ShutdownGrace
	done := make(chan struct{})
	go func() {
		s.grpcSrv.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.logger.Warn("shutdown grace elapsed, closing remaining connections")
		s.grpcSrv.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		s.httpSrv.Close()
	}
}
