// Command fakebotapi runs the fake Telegram Bot API as its own process, for
// end-to-end tests of the sportello binary. It prints "FAKEAPI_URL=<url>" on
// its first line of output once it listens, and serves until it is
// interrupted or its standard input closes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sportello/channels/telegram/internal/fakeapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	token := flag.String("token", "", "the bot token to accept (required)")
	flag.Parse()
	if *token == "" {
		log.Fatal("fakebotapi: -token is required")
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("fakebotapi: %v", err)
	}
	fake := fakeapi.New(*token)
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("FAKEAPI_URL=http://%s\n", l.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The test holds our stdin; when it goes away, so do we.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		log.Fatalf("fakebotapi: %v", err)
	}
	fake.Close()
}
