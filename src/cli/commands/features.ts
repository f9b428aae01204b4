import type { Command } from "commander";

// Placeholder until the owning stage lands its command.
export function register(program: Command): void {
  program.command("features").description("(not implemented yet)");
}
