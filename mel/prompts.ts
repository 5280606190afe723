import type { MetaExperiencePromptStyle } from './config.js';
import type { ChatMessage, Problem } from './types.js';

// Prompts of paper Appendix C, paraphrased (not verbatim), plus the rollout prompt the paper leaves open.
// Section titles are exact strings because the parser looks for them.

export const SECTION_TITLES = {
  failure: 'Failure Resolution Path & Error Pattern Recognition',
  success: 'Analysis of Success Factors',
  summary: 'First-Person Reflective Summary',
  heuristics: 'Subject Heuristics (Internalized Experience)',
} as const;

export const FIELD_LABELS = {
  failurePoint: 'Failure Point',
  latentPattern: 'Latent Cognitive Pattern',
} as const;

/** Answer-format instruction of every prompt whose output is verified (Qwen-Math style). */
export const ANSWER_FORMAT_INSTRUCTION =
  'Please reason step by step, and put your final answer within \\boxed{}.';

/** Rollout (and evaluation) prompt: the question, then the answer format. */
export function rolloutMessages(problem: Pick<Problem, 'question'>): ChatMessage[] {
  return [{ role: 'user', content: `${problem.question}\n\n${ANSWER_FORMAT_INSTRUCTION}` }];
}

const ANALYST_ROLE = `You are a Meta-Cognitive Reasoning Analyst. Your speciality is self-reflection, root-cause analysis of reasoning errors, and the extraction of heuristics that generalise.
You will be given a problem and solution trajectories for it. The labels Correct and Incorrect refer only to the final answer: a correct trajectory may still contain detours. Perform a thorough comparative autopsy of the thinking, find the structural cognitive differences that led to success or failure, and turn them into abstract principles for future problems.`;

const ANALYSIS_REQUIREMENTS = `Core analysis requirements:
1. Correct trajectory (resilience and robustness).
   - If it corrected itself after an early error or moment of doubt, find that moment: what triggered the realisation, and what structural insight let it pivot back?
   - If it was flawless, name the "immunity": the definition, clear representation of knowledge, or disciplined step-by-step checking that kept it out of the traps the incorrect trajectory fell into.
   - Extract the concrete validation technique or robust mental representation.
2. Incorrect trajectory (vulnerability).
   - Explain not only where the mathematics or logic broke, but why the reasoning drifted.
   - Locate the Bifurcation Point: the step where a correct start turned into a hallucination or a logical gap.
   - Diagnose the latent cognitive defect (for example concept conflation, a rigid mindset, an overlooked edge case, an intuitive bias) and the knowledge point or constraint that was violated.
3. Comparative synthesis.
   - Contrast the two solutions and their decision boundaries: why did the successful one avoid the trap?
   - What structural insight did it have that the failed one lacked (for example seeing the problem geometrically instead of getting stuck in algebra)?
4. Strict generalisation constraint.
   - Forbidden: mentioning this problem's specific numbers, variables or answer in the Heuristics or the Reflective Summary.
   - Required: turn the lessons into abstract, conditionally triggered rules ("If ... then ...", "When dealing with [concept], I should ...").`;

const OUTPUT_FORMAT = `Output format (strict; use these four headings in this order):
## 1. ${SECTION_TITLES.failure}
**${FIELD_LABELS.failurePoint}:** the exact step where the logic diverged. Did it start correctly, and where did the drift happen?
**${FIELD_LABELS.latentPattern}:** the deep reasoning defect (a bias, a missing prerequisite, a misread intent), not a surface calculation slip.
## 2. ${SECTION_TITLES.success}
**Reasoning Pivot** (if the correct path corrected itself) or **Robustness Factor** (if it was flawless): the moment of realisation and the fix, or the concept that immunised the reasoning.
**Reason for Effectiveness:** why this perspective works and which fundamental logic it satisfies.
## 3. ${SECTION_TITLES.summary}
Written as "I". **Review:** the differences between the two thinking processes. **Insight:** the key knowledge point or cognitive habit. **Action:** how I will restructure my approach to avoid these internal reasoning defects. Focus on how the thinking went, not on the answer.
## 4. ${SECTION_TITLES.heuristics}
A bulleted list; each item shaped like
- [Pattern Name]: If [abstract condition] occurs, then [abstract action].
- [Pattern Name]: When dealing with [concept type], I must strictly verify [constraint].
Each item must apply to future problems of the same class, with every specific of this problem removed.`;

export interface ContrastiveInput {
  question: string;
  incorrectSolution: string;
  correctSolution: string;
}

/** The input block of Appendix C: one incorrect and one correct solution, incorrect first. */
export function contrastiveInputBlock(input: ContrastiveInput): string {
  return `The question and its solutions follow.
<question> ${input.question} </question>
- Solution 1: <answer> ${input.incorrectSolution} </answer> <judge> Incorrect </judge>
- Solution 2: <answer> ${input.correctSolution} </answer> <judge> Correct </judge>`;
}

/** Instruction I of the single-call mode (the Meta-Experience Prompt) with its input block. */
export function metaExperiencePrompt(input: ContrastiveInput): string {
  return [ANALYST_ROLE, ANALYSIS_REQUIREMENTS, OUTPUT_FORMAT, contrastiveInputBlock(input)].join('\n\n');
}

/** Single-call mode: one generation writes all four sections (paper Appendix C). */
export function metaExperienceMessages(input: ContrastiveInput): ChatMessage[] {
  return [{ role: 'user', content: metaExperiencePrompt(input) }];
}

/**
 * A short instruction with the same input block and the same four output sections: for models too small to
 * read the ~2k-token Appendix C prompt (the tiny local model). Not the paper's prompt; chosen by configuration.
 */
export function compactMetaExperiencePrompt(input: ContrastiveInput): string {
  return `Compare the two solutions. Write the four sections: ${Object.values(SECTION_TITLES).join('; ')}. Never repeat the problem's numbers in the last two.\n\n${contrastiveInputBlock(input)}`;
}

export function metaExperienceMessagesFor(
  style: MetaExperiencePromptStyle,
  input: ContrastiveInput,
): ChatMessage[] {
  const content = style === 'compact' ? compactMetaExperiencePrompt(input) : metaExperiencePrompt(input);
  return [{ role: 'user', content }];
}

// Chained mode: Eqs. 2–4 as three turns of one conversation, each conditioned on I, x, y+, y− and
// on the earlier outputs: s* ~ π(·|I,x,y+,y−), C ~ π(·|…, s*), H ~ π(·|…, s*, C).
export const CHAINED_STEP_INSTRUCTIONS = [
  `Step 1 of 3 (bifurcation point). Write only the ${FIELD_LABELS.failurePoint}: quote or describe the exact step of Solution 1 where a correct start turned into an error, and say what Solution 2 did at the same point. Do not write the other sections yet.`,
  `Step 2 of 3 (critique). Given the bifurcation point you identified, write sections 1 and 2: the ${FIELD_LABELS.latentPattern} behind the error (violated assumptions, wrong sub-goals, overlooked constraints, misused principles), the success factors of Solution 2 (what protected it) and the corrective principle. Use the headings "## 1. ${SECTION_TITLES.failure}" and "## 2. ${SECTION_TITLES.success}".`,
  `Step 3 of 3 (heuristics). Given your bifurcation point and critique, write sections 3 and 4 with the headings "## 3. ${SECTION_TITLES.summary}" and "## 4. ${SECTION_TITLES.heuristics}". Never mention this problem's specific numbers, variables or answer.`,
] as const;

export const CHAINED_STEP_COUNT = CHAINED_STEP_INSTRUCTIONS.length;

/**
 * The conversation that asks for chained step `previousOutputs.length` (0, 1 or 2), given the
 * outputs of the earlier steps; ends with a user turn so that a generation prompt can follow.
 */
export function chainedMetaExperienceMessages(
  input: ContrastiveInput,
  previousOutputs: readonly string[],
): ChatMessage[] {
  const step = previousOutputs.length;
  if (step >= CHAINED_STEP_COUNT)
    throw new Error(`chained mode has ${CHAINED_STEP_COUNT} steps, got step ${step}`);
  const messages: ChatMessage[] = [
    { role: 'user', content: `${metaExperiencePrompt(input)}\n\n${CHAINED_STEP_INSTRUCTIONS[0]}` },
  ];
  previousOutputs.forEach((output, i) => {
    messages.push({ role: 'assistant', content: output });
    messages.push({ role: 'user', content: CHAINED_STEP_INSTRUCTIONS[i + 1] as string });
  });
  return messages;
}

/** Empirical Validation Prompt (replay, paper Eq. 6), followed by the answer format so the replay can be verified. */
export function validationPrompt(experience: string, question: string): string {
  return `A prior study has supplied internal reference information for the question below. It covers the key approaches, steps and reasoning needed for a correct solution; typical reasoning biases, logical flaws and pitfalls seen in incorrect solutions; and heuristic insights on how to solve it more effectively.

${experience}

Now fully internalise this information as your own experience, then think through the problem independently and in detail, and produce a complete answer. You must carry out full, in-depth reasoning and reach the final answer while making full use of the information above.

Answer the following question: ${question}

${ANSWER_FORMAT_INSTRUCTION}`;
}

export function validationMessages(experience: string, problem: Pick<Problem, 'question'>): ChatMessage[] {
  return [{ role: 'user', content: validationPrompt(experience, problem.question) }];
}
