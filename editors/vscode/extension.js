// The nnt extension: starts `nnt lsp` (setting `nnt.path`) as the language server
// of .nnt files. Highlighting comes from the TextMate grammar in syntaxes/.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function start() {
  const command = vscode.workspace.getConfiguration("nnt").get("path") || "nnt";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "nnt",
    "nnt language server",
    { run: server, debug: server },
    {
      documentSelector: [{ language: "nnt" }],
      synchronize: { configurationSection: "nnt" },
    }
  );
  return client.start();
}

async function restart() {
  if (client) {
    await client.stop();
  }
  await start();
}

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("nnt.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("nnt.path")) {
        restart();
      }
    })
  );
  return start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
