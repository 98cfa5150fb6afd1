package mux

import (
	"errors"
	"fmt"
	"time"
)

// DefaultWindow is the receive window per channel when a client's open names none, and the
// server's own default receive window.
const DefaultWindow = 256 << 10

// Config tunes a Server. Start from DefaultConfig; every field must be positive.
type Config struct {
	// MaxFrameBytes bounds one incoming frame (header included). A larger frame closes its
	// channel with frame_too_large; one over 4x this closes the connection. Default 1 MiB.
	MaxFrameBytes int
	// MaxChannels bounds the channels open on one connection; more opens are refused with
	// channel_limit. Default 64.
	MaxChannels int
	// Window is the credit the server grants a client per channel, i.e. the most client data
	// buffered for a channel whose kind is not reading. Default 256 KiB.
	Window int
	// SendQueueBytes bounds each channel's send queue: Send waits and TrySend fails beyond it.
	// A single message larger than this is still accepted into an empty queue. Default 256 KiB.
	SendQueueBytes int
	// ControlQueue bounds queued control frames (pongs, credits, closes); a client that makes
	// the server queue more without reading is disconnected with slow_consumer. Default 1024.
	ControlQueue int
	// PingInterval is how often the server pings a client on channel 0, so that proxies with a
	// 60 s idle timeout never see a quiet socket. Default 25s.
	PingInterval time.Duration
	// IdleTimeout closes a connection with idle_timeout when nothing arrived for this long
	// (a client answers every ping, so only dead peers are idle). Default 60s.
	IdleTimeout time.Duration
	// WriteTimeout bounds one socket write. Default 10s.
	WriteTimeout time.Duration
	// MaxInboundBytes bounds the client data one connection holds for all its channels' kinds
	// to read. Credit bounds each channel, but a connection has many channels and a frame may
	// overshoot its credit, so without this 64 channels with 1 MiB frames would pin 80 MiB per
	// connection; the channel whose frame would exceed it is closed with limit. Default 8 MiB.
	MaxInboundBytes int
	// CloseGrace is how long the server waits for the client's close frame after sending its
	// own before dropping the TCP connection. Default 2s.
	CloseGrace time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:  1 << 20,
		MaxChannels:    64,
		Window:         DefaultWindow,
		SendQueueBytes: 256 << 10,
		ControlQueue:   1024,
		PingInterval:   25 * time.Second,
		IdleTimeout:    60 * time.Second,
		WriteTimeout:   10 * time.Second,
		CloseGrace:     2 * time.Second,

		MaxInboundBytes: 8 << 20,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	for name, v := range map[string]int{
		"MaxFrameBytes": c.MaxFrameBytes, "MaxChannels": c.MaxChannels, "Window": c.Window,
		"SendQueueBytes": c.SendQueueBytes, "ControlQueue": c.ControlQueue, "MaxInboundBytes": c.MaxInboundBytes,
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("mux: %s must be positive, got %d", name, v))
		}
	}
	for name, v := range map[string]time.Duration{
		"PingInterval": c.PingInterval, "IdleTimeout": c.IdleTimeout,
		"WriteTimeout": c.WriteTimeout, "CloseGrace": c.CloseGrace,
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("mux: %s must be positive, got %s", name, v))
		}
	}
	if c.MaxFrameBytes > 0 && c.MaxFrameBytes < 64 {
		errs = append(errs, fmt.Errorf("mux: MaxFrameBytes %d: at least 64", c.MaxFrameBytes))
	}
	if c.MaxInboundBytes > 0 && c.MaxInboundBytes < c.MaxFrameBytes {
		errs = append(errs, fmt.Errorf("mux: MaxInboundBytes %d is under MaxFrameBytes %d", c.MaxInboundBytes, c.MaxFrameBytes))
	}
	if c.IdleTimeout > 0 && c.PingInterval > 0 && c.IdleTimeout <= c.PingInterval {
		errs = append(errs, fmt.Errorf("mux: IdleTimeout %s must exceed PingInterval %s", c.IdleTimeout, c.PingInterval))
	}
	if c.MaxChannels > MaxChannelID {
		errs = append(errs, fmt.Errorf("mux: MaxChannels %d is over %d", c.MaxChannels, uint64(MaxChannelID)))
	}
	return errors.Join(errs...)
}
