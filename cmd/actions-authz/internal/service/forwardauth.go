package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// listenForwardAuth opens server.forward_auth_addr, or returns a nil
// listener when the HTTP front door is off.
func listenForwardAuth(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("forward-auth listener: %w", err)
	}
	return lis, nil
}

// serveForwardAuth runs the HTTP front door srv on lis until ctx is done,
// then lets in-flight requests finish within grace. A serve failure goes to
// errc, unless errc is full because the service is already stopping.
func serveForwardAuth(ctx context.Context, srv *http.Server, lis net.Listener, grace time.Duration, wg *sync.WaitGroup, errc chan<- error) {
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("forward-auth server: %w", err):
			default:
			}
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}()
}
