package main

import (
	"slices"
	"testing"
)

func TestNodeTopics(t *testing.T) {
	got, err := nodeTopics("{{aggregate_type}}.{{event_type}}")
	if want := []string{"order.OrderCreated", "order.OrderUpdated", "order.OrderCancelled"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("nodeTopics = %v, %v; want %v", got, err, want)
	}
	if _, err := nodeTopics("{{nope}}"); err == nil {
		t.Fatal("unknown placeholder accepted")
	}
}
