package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net"
)

// serveUpstream is the upstream behind Envoy: 200 "ok" to every request,
// on keep-alive connections. It reads requests without a body only, which
// is all Envoy forwards here, and answers from prepared bytes: a net/http
// server would cost several times its CPU per request, which the
// configurations share and which would blur the difference between them.
func serveUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); lis.Close() }()
	for {
		conn, err := lis.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go answer(conn)
	}
}

var (
	okResponse  = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	badResponse = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
)

// answer answers the requests of one connection until it closes.
func answer(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 16<<10)
	for {
		for first := true; ; first = false {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 && !first {
				break
			}
			name, value, _ := bytes.Cut(line, []byte(":"))
			if bytes.EqualFold(name, []byte("transfer-encoding")) ||
				bytes.EqualFold(name, []byte("content-length")) && string(bytes.TrimSpace(value)) != "0" {
				conn.Write(badResponse) // a body: not what this upstream is for
				return
			}
		}
		if _, err := conn.Write(okResponse); err != nil {
			return
		}
	}
}
