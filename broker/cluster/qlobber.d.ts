// The part of qlobber (a dependency of aedes and mqemitter, no types of its own) the edge uses.
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  /** topic matcher whose filters carry no values: add a filter, test a topic against all of them */
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(filter: string): this;
    remove(filter: string): this;
    test(topic: string): boolean;
    clear(): this;
  }
}
