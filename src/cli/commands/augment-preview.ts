import type { Command } from "commander";

// Placeholder until the owning stage lands its command.
export function register(program: Command): void {
  program.command("augment-preview").description("(not implemented yet)");
}
