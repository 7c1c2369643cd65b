package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/server"
)

// probeListener serves /metrics, /healthz and /readyz on SYNCD_METRICS_ADDR,
// off the public listener. Its zero value (no SYNCD_METRICS_ADDR) does
// nothing.
type probeListener struct {
	ln  net.Listener
	srv *http.Server
}

// listenProbes listens on SYNCD_METRICS_ADDR when it is set. The server
// takes its timeouts and limits from main, SYNCD_ADDR's server, so both
// listeners are hardened alike.
func listenProbes(cfg config.Config, main *http.Server, deps server.Deps) (*probeListener, error) {
	if cfg.MetricsAddr == "" {
		return &probeListener{}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on SYNCD_METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	return &probeListener{ln: ln, srv: &http.Server{
		Handler:           server.ProbeRoutes(deps),
		ReadHeaderTimeout: main.ReadHeaderTimeout,
		ReadTimeout:       main.ReadTimeout,
		WriteTimeout:      main.WriteTimeout,
		IdleTimeout:       main.IdleTimeout,
		MaxHeaderBytes:    main.MaxHeaderBytes,
		ErrorLog:          main.ErrorLog,
	}}, nil
}

// Addr is the address listened on, or "" without SYNCD_METRICS_ADDR.
func (p *probeListener) Addr() string {
	if p.ln == nil {
		return ""
	}
	return p.ln.Addr().String()
}

// Serve serves until Shutdown, sending a failure to errs.
func (p *probeListener) Serve(errs chan<- error) {
	if p.srv == nil {
		return
	}
	go func() {
		if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			select {
			case errs <- fmt.Errorf("metrics server: %w", err):
			default:
			}
		}
	}()
}

// Shutdown stops the server and closes the listener, served or not.
func (p *probeListener) Shutdown(ctx context.Context) error {
	if p.srv == nil {
		return nil
	}
	err := p.srv.Shutdown(ctx)
	p.ln.Close() // already closed if it served
	return err
}
