/** The compiled CLI's entry module. */
export declare const BUILT_CLI: URL
/** Whether dist/ holds a build at least as new as every file it is built from. */
export declare function builtCliIsCurrent (): boolean
