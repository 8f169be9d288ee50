// The shape of one case in the demo goldens written by the dev scripts (make_demo_cla2.py, make_demo_qwen3.py).

export interface DemoGoldenCase {
  name: string;
  adapter: string | null;
  prompt_ids: number[];
  new_token_ids: number[];
  text: string;
  prompt_last_logits_top10: Array<{ id: number; logit: number }>;
}
