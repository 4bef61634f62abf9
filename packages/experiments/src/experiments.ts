/** Importing this module registers every experiment. */
import "./env/tiny";
import "./g2lstm/ptb";
