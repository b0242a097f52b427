// The formats and surfaces the server accepts. A server test compares this block with the
// server's catalog, so the two cannot drift apart.
/* catalog:start */
export const API_FORMATS = {
  "openai": ["chat-completions", "completions", "responses", "embeddings"],
  "anthropic": ["messages", "count-tokens"]
};
/* catalog:end */
